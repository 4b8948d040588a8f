/**
 * The TypeScript end of bench/lib/torch_worker.py: a persistent PyTorch process (Debian's
 * /usr/bin/python3 with python3-torch) answering one JSON command per line. Absent torch, `start`
 * returns null and the bench skips the PyTorch column with a message.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

export const PYTHON = process.env.APT_PRUNE_PYTHON ?? '/usr/bin/python3';

export interface TorchInfo {
  readonly torch: string;
  readonly threads: number;
  readonly blas: string;
  readonly python: string;
}

export class TorchWorker {
  private readonly pending: ((line: string) => void)[] = [];

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => this.pending.shift()?.(line));
  }

  /** Starts the worker, or returns null (with the reason) when PyTorch is not installed. */
  static start(): { worker: TorchWorker } | { reason: string } {
    if (!existsSync(PYTHON)) return { reason: `${PYTHON} not found` };
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status !== 0) return { reason: `PyTorch not importable by ${PYTHON} (apt-get install python3-torch libopenblas0-openmp)` };
    const script = new URL('./torch_worker.py', import.meta.url).pathname;
    const proc = spawn(PYTHON, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stderr.on('data', (d: Buffer) => {
      const s = d.toString();
      if (!/UserWarning|warnings.warn/.test(s)) process.stderr.write(`[torch] ${s}`);
    });
    return { worker: new TorchWorker(proc) };
  }

  request<T>(msg: object): Promise<T> {
    return new Promise((resolve, reject) => {
      this.pending.push((line) => {
        const r = JSON.parse(line) as T & { error?: string };
        if (r.error) reject(new Error(`torch worker: ${r.error}`));
        else resolve(r);
      });
      this.proc.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  info(threads?: number): Promise<TorchInfo> {
    return this.request({ cmd: 'info', ...(threads ? { threads } : {}) });
  }

  async time(id: string, mode: 'fwd' | 'fwdbwd' | 'train', iters: number): Promise<number[]> {
    return (await this.request<{ seconds: number[] }>({ cmd: 'time', id, mode, iters })).seconds;
  }

  stop(): void {
    this.proc.stdin.end();
  }
}
