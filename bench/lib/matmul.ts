import { Graph } from '../../src/graph/builder.js';
import { compile, type SessionOptions } from '../../src/graph/runtime.js';
import { Rng } from '../../src/tensor/rng.js';
import { tensor } from '../../src/tensor/tensor.js';
import { median, timeIt } from './timing.js';

/**
 * ORT MatMul GFLOP/s on this machine, now: a square 1024³ product and a ViT-shaped one
 * ([3200, 96] × [96, 384], the fc1 of fmnist-vit-t at B=64). The practical ceiling for our graphs
 * run with the same session options (`opts`: thread count above all).
 */
export async function matmulGflops(opts: SessionOptions = {}): Promise<{ square: number; vitShaped: number }> {
  const rng = new Rng(7);
  const run = async (m: number, k: number, n: number) => {
    const g = new Graph(`matmul-${m}x${k}x${n}`);
    g.output('c', g.MatMul(g.input('a', 'float32', [m, k]), g.input('b', 'float32', [k, n])));
    const s = await compile(g, opts);
    const a = tensor(rng.fillNormal(new Float32Array(m * k)), [m, k]);
    const b = tensor(rng.fillNormal(new Float32Array(k * n)), [k, n]);
    const t = median(await timeIt(() => s.run({ a, b }), 20, 3));
    s.dispose();
    return Number(((2 * m * k * n) / t / 1e9).toFixed(1));
  };
  return { square: await run(1024, 1024, 1024), vitShaped: await run(3200, 96, 384) };
}
