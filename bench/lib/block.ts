/**
 * The benchmark transformer block (one pre-LN ViT block, 3 heads, GELU tanh) as a forward graph and
 * as a training graph (loss Σ out ⊙ r, every parameter's gradient), with seeded parameters and
 * feeds. Shared by bench/engine and bench/engine-fusion so both time the same graphs.
 */
import { Graph } from '../../src/graph/builder.js';
import type { Value } from '../../src/graph/types.js';
import type { Rng } from '../../src/tensor/rng.js';
import { full, type Tensor, tensor } from '../../src/tensor/tensor.js';
import { addGradients } from '../../src/train/step.js';
import { block } from '../../src/vit/blocks.js';
import type { VitConfig } from '../../src/vit/config.js';
import { type BlockKey, type Params, paramShapes } from '../../src/vit/params.js';

const blockConfig = (dim: number): VitConfig => ({
  kind: 'vit',
  name: `block-${dim}`,
  imageSize: 28,
  patchSize: 4,
  inChans: 1,
  numClasses: 10,
  dim,
  depth: 1,
  heads: 3,
  mlpRatio: 4,
  qkvBias: true,
  lnEps: 1e-6,
  gelu: 'tanh',
});

/**
 * `build(train)`: the block on x [B, tokens, dim] → y, or (train) → loss and `grad.*` with the extra
 * input r [B, tokens, dim]. Feeds at `batch`: parameters (LayerNorm scales 1, the rest N(0, 0.02²)),
 * x and r ~ N(0, 1).
 */
export function benchBlock(dim: number, batch: number, tokens: number, rng: Rng) {
  const c = blockConfig(dim);
  const shapes = paramShapes(c).filter(([k]) => k.startsWith('blocks.0.'));
  const build = (train: boolean): Graph => {
    const g = new Graph(`block${dim}-${train ? 'train' : 'fwd'}`);
    const x = g.input('x', 'float32', ['B', tokens, dim]);
    const p: Record<string, Value> = {};
    for (const [k, dims] of shapes) p[k.slice('blocks.0.'.length)] = g.param(k, dims);
    const { out } = block(g, p as Params<BlockKey>, x, c);
    if (!train) g.output('y', out);
    else {
      const r = g.input('r', 'float32', ['B', tokens, dim]);
      addGradients(g, g.ReduceSum(g.Mul(out, r), [], false), Object.fromEntries(shapes.map(([k]) => [k, p[k.slice(9)] as Value])));
    }
    return g;
  };
  const rand = (dims: number[], std: number): Tensor<'float32'> => tensor(rng.fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1)), 0, std), dims);
  const params = Object.fromEntries(shapes.map(([k, dims]) => [k, /norm\d\.weight$/.test(k) ? full(dims, 1, 'float32') : rand(dims, 0.02)]));
  const feedsFwd: Record<string, Tensor> = { ...params, x: rand([batch, tokens, dim], 1) };
  return { build, feedsFwd, feedsTrain: { ...feedsFwd, r: rand([batch, tokens, dim], 1) } };
}
