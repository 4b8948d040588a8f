"""PyTorch side of the apt-prune benchmarks: a persistent worker driven over stdin/stdout.

Run by bench/lib/torch.ts with Debian's /usr/bin/python3 (python3-torch). One JSON command per
line in, one JSON reply per line out, so the TypeScript side can interleave our runs with
PyTorch's in one process lifetime. Commands:
  {"cmd": "info"}                                  -> versions, threads, BLAS actually loaded
  {"cmd": "setup", "id": "...", "case": {...}}    -> builds a model + inputs for a case
  {"cmd": "time", "id": "...", "mode": "fwd"|"fwdbwd"|"train", "iters": n}
                                                   -> {"seconds": [per-iteration wall times]}
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def blas_loaded():
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown"
    for name in ("openblas", "mkl", "blis", "libblas.so"):
        if name in maps:
            for line in maps.splitlines():
                if name in line:
                    return line.split()[-1]
    return "none found"


class Block(nn.Module):
    """Pre-LN ViT block as timm (qkv one Linear, GELU tanh or erf)."""

    def __init__(self, dim, heads, mlp_ratio=4, gelu="tanh", eps=1e-6):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.fc2 = nn.Linear(int(dim * mlp_ratio), dim)
        self.gelu = gelu

    def attn(self, x):
        b, n, d = x.shape
        h = self.heads
        qkv = self.qkv(x).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)
        a = a.softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, d))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        y = self.fc1(self.norm2(x))
        y = F.gelu(y, approximate="tanh") if self.gelu == "tanh" else F.gelu(y)
        return x + self.fc2(y)


def build(case):
    torch.manual_seed(0)
    kind = case["kind"]
    if kind == "block":
        m = Block(case["dim"], case["heads"], case.get("mlpRatio", 4), case.get("gelu", "tanh"))
        x = torch.randn(case["batch"], case["tokens"], case["dim"])
        r = torch.randn_like(x)
        return m, x, lambda out: (out * r).sum()
    if kind == "mlp":
        dims = case["dims"]
        layers = []
        for i in range(len(dims) - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(nn.ReLU())
        m = nn.Sequential(*layers)
        x = torch.randn(case["batch"], dims[0])
        y = torch.randint(0, dims[-1], (case["batch"],))
        return m, x, lambda out: F.cross_entropy(out, y)
    if kind == "vit":
        sys.path.insert(0, case["modulePath"])
        from vit_ref import load_state_dict, make_vit  # noqa: E402  (scripts/fixtures/vit_ref.py)

        m = make_vit(case["config"])
        if case.get("weights"):
            load_state_dict(m, case["weights"])
        case = {**case, **case["config"]}
        x = torch.randn(case["batch"], case["inChans"], case["imageSize"], case["imageSize"])
        y = torch.randint(0, case["numClasses"], (case["batch"],))
        return m, x, lambda out: F.cross_entropy(out, y, label_smoothing=0.1)
    if kind == "sret":
        sys.path.insert(0, case["modulePath"])
        from sret_ref import load_state_dict as load_sret, make_sret  # noqa: E402  (scripts/fixtures/sret_ref.py)

        m = make_sret(case["config"])
        if case.get("weights"):
            load_sret(m, case["weights"])  # apt-prune's export in the reference layout, strict
        cfg = case["config"]
        x = torch.randn(case["batch"], cfg["inChans"], cfg["imageSize"], cfg["imageSize"])
        y = torch.randint(0, cfg["numClasses"], (case["batch"],))
        return m, x, lambda out: F.cross_entropy(out, y, label_smoothing=0.1)
    raise ValueError(f"unknown case kind {kind}")


def main():
    models = {}
    threads = None
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "info":
                if "threads" in msg:
                    torch.set_num_threads(int(msg["threads"]))
                threads = torch.get_num_threads()
                reply = {"torch": torch.__version__, "threads": threads, "blas": blas_loaded(), "python": sys.version.split()[0]}
            elif cmd == "setup":
                m, x, loss = build(msg["case"])
                opt = torch.optim.AdamW(m.parameters(), lr=1e-3) if msg["case"].get("optimizer") else None
                models[msg["id"]] = (m, x, loss, opt)
                reply = {"ok": True, "params": sum(p.numel() for p in m.parameters())}
            elif cmd == "time":
                m, x, loss, opt = models[msg["id"]]
                mode = msg["mode"]
                secs = []
                for _ in range(int(msg["iters"])):
                    t = time.perf_counter()
                    if mode == "fwd":
                        m.eval()
                        with torch.no_grad():
                            m(x)
                    else:
                        m.train()
                        m.zero_grad(set_to_none=True)
                        loss(m(x)).backward()
                        if mode == "train" and opt is not None:
                            opt.step()
                    secs.append(time.perf_counter() - t)
                reply = {"seconds": secs}
            elif cmd == "export":
                m, x, _, _ = models[msg["id"]]
                m.eval()
                torch.onnx.export(m, x[:1], msg["path"], input_names=["images"], output_names=["logits"],
                                  dynamic_axes={"images": {0: "B"}, "logits": {0: "B"}}, opset_version=17)
                reply = {"ok": True}
            else:
                reply = {"error": f"unknown command {cmd}"}
        except Exception as e:  # reply with the error instead of dying mid-benchmark
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
