/**
 * An opt-in rewrite (`compile(g, { fuseTransposes: true })`) of the model handed to ONNX Runtime,
 * never of exported files:
 * `MatMul(Transpose(a, …↔last two), b)` becomes ORT's `com.microsoft.FusedMatMul` with transA/transB,
 * so the transposed operand is never materialised.
 *
 * Why not leave it to ORT: it has this fusion, but its transpose optimizer runs first and merges the
 * swap with the head-split transpose before it ([0,2,1,3] then [0,1,3,2] → [0,2,3,1]), and a merged
 * transpose no longer matches. Those merged transposes move the innermost axis, ORT's slowest kind
 * (≈ 400 µs for 307k floats on this machine, against ≈ 50 µs to move an outer axis): attention's
 * kᵀ and the transposed operands of its backward MatMuls were a sixth of a block's training step.
 * Yet the end-to-end gain did not follow (`npm run bench -- engine-fusion`): training steps are level
 * and forwards 10–40% slower (MLAS's batched GEMM with a transposed operand is slower than a copy
 * plus the plain kernel on these shapes), so it is off by default.
 */
import { attrToProto, type ModelProto, type NodeLike, onnx } from './onnx-proto.js';

const MS_DOMAIN = 'com.microsoft';

/** True for perms [0, 1, …, r−1, r−2]: a swap of the last two axes and nothing else. */
function swapsLastTwo(perm: readonly number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 1] === r - 2 && perm[r - 2] === r - 1 && perm.slice(0, r - 2).every((p, i) => p === i);
}

const permOf = (n: NodeLike): number[] => (n.attribute?.find((a) => a.name === 'perm')?.ints ?? []).map(Number);

/**
 * Rewrites, in place, for float32 MatMuls (ORT's CPU FusedMatMul has no float64 kernel; the op
 * table's MatMul already requires operands of rank ≥ 2, so both have last two axes to swap):
 *   MatMul(Tᵏ(a), Tʲ(b))            → FusedMatMul(a, b, transA = k odd, transB = j odd)
 *   T(MatMul or FusedMatMul(a, b))  → FusedMatMul(b, a, transA = ¬transB, transB = ¬transA)
 *                                      when the transpose is the product's only reader,
 * where T swaps the last two axes; (AB)ᵀ = BᵀAᵀ is how a VJP's transposed gradient disappears.
 * Transposes nothing reads any more are dropped. Returns how many nodes were rewritten.
 */
export function fuseTransposedMatMuls(model: ModelProto, dtypeOf: (name: string) => string | undefined): number {
  const graph = model.graph;
  if (!graph?.node) return 0;
  const producer = new Map<string, NodeLike>();
  for (const n of graph.node) for (const o of n.output ?? []) producer.set(o, n);
  const isSwap = (n: NodeLike | undefined): n is NodeLike => n?.opType === 'Transpose' && !n.domain && swapsLastTwo(permOf(n));
  const fusable = (n: NodeLike) => n.opType === 'MatMul' && !n.domain && dtypeOf(n.output?.[0] ?? '') === 'float32';
  const flagsOf = (n: NodeLike) => ['transA', 'transB'].map((k) => Number(n.attribute?.find((a) => a.name === k)?.i ?? 0) === 1);
  const setFused = (n: NodeLike, [a, b]: string[], [ta, tb]: boolean[], alpha: number) => {
    n.opType = 'FusedMatMul';
    n.domain = MS_DOMAIN;
    n.input = [a as string, b as string];
    n.attribute = [attrToProto('transA', { int: ta ? 1 : 0 }), attrToProto('transB', { int: tb ? 1 : 0 }), attrToProto('alpha', { float: alpha })];
  };
  let rewritten = 0;
  for (const n of graph.node) {
    if (!fusable(n)) continue;
    const operands = (n.input ?? []).map((name) => {
      let [src, flip] = [name, false];
      for (let t = producer.get(src); isSwap(t); t = producer.get(src)) [src, flip] = [t.input?.[0] as string, !flip];
      return { src, flip };
    });
    if (operands.every((o, i) => o.src === n.input?.[i])) continue;
    setFused(
      n,
      operands.map((o) => o.src),
      operands.map((o) => o.flip),
      1,
    );
    rewritten++;
  }
  const outputs = (graph.output ?? []).map((o) => o.name ?? '');
  // Drops transposes nothing reads (repeated: a dropped one may have been another's only reader).
  const dropUnread = () => {
    for (let before = -1; before !== graph.node?.length; ) {
      before = graph.node?.length ?? 0;
      const read = new Set([...(graph.node ?? []).flatMap((n) => n.input ?? []), ...outputs]);
      graph.node = (graph.node ?? []).filter((n) => n.opType !== 'Transpose' || n.domain || (n.output ?? []).some((o) => read.has(o)));
    }
  };
  dropUnread();
  const readers = new Map<string, number>();
  for (const name of [...graph.node.flatMap((n) => n.input ?? []), ...outputs]) readers.set(name, (readers.get(name) ?? 0) + 1);
  const dead = new Set<NodeLike>();
  for (const t of graph.node) {
    const m = producer.get(t.input?.[0] ?? '');
    if (!isSwap(t) || !m || readers.get(t.input?.[0] ?? '') !== 1) continue;
    if (!(fusable(m) || (m.opType === 'FusedMatMul' && m.domain === MS_DOMAIN))) continue;
    const [ta, tb] = flagsOf(m);
    const alpha = m.opType === 'FusedMatMul' ? (m.attribute?.find((a) => a.name === 'alpha')?.f ?? 1) : 1;
    setFused(m, [m.input?.[1] as string, m.input?.[0] as string], [!tb, !ta], alpha);
    m.output = [t.output?.[0] as string];
    dead.add(t);
    rewritten++;
  }
  if (rewritten === 0) return 0;
  graph.node = graph.node.filter((n) => !dead.has(n));
  dropUnread();
  model.opsetImport = [...(model.opsetImport ?? []), onnx.OperatorSetIdProto.create({ domain: MS_DOMAIN, version: 1 })];
  return rewritten;
}
