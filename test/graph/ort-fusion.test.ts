/**
 * The FusedMatMul rewrite `compile` applies with `fuseTransposes: true`: every rewritten graph computes what the plain ONNX
 * graph computes (both run in ORT), the transposes it promises to remove are gone, and the cases
 * it must leave alone (float64, a transpose or product read twice) are left alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/builder.js';
import { encode, encodeForOrt } from '../../src/graph/encode.js';
import { onnx } from '../../src/graph/onnx-proto.js';
import { compile, type Session } from '../../src/graph/runtime.js';
import type { Value } from '../../src/graph/types.js';
import type { DType, Tensor } from '../../src/tensor/tensor.js';
import { addGradients } from '../../src/train/step.js';
import { expectAllclose } from '../helpers/allclose.js';
import { randomFeeds, transformerBlock } from '../helpers/graphs.js';

const open: Session[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.dispose();
});

const opCounts = (bytes: Uint8Array) => {
  const counts: Record<string, number> = {};
  for (const n of onnx.ModelProto.decode(bytes).graph?.node ?? []) counts[n.opType as string] = (counts[n.opType as string] ?? 0) + 1;
  return counts;
};

/** Runs `g` fused and plain on the same feeds and checks every output agrees. */
async function expectSameAsPlain(g: Graph, feeds: Record<string, Tensor>): Promise<void> {
  const fused = await compile(g, { intraOpThreads: 1, fuseTransposes: true });
  const plain = await compile(g, { intraOpThreads: 1 });
  open.push(fused, plain);
  const [a, b] = [await fused.run(feeds), await plain.run(feeds)];
  for (const name of Object.keys(b)) {
    expect(a[name]?.dims, name).toEqual(b[name]?.dims);
    expectAllclose(a[name]?.data as Float32Array, b[name]?.data as Float32Array, { rtol: 1e-5, atol: 1e-6, what: name });
  }
}

const swap = (g: Graph, v: Value) =>
  g.Transpose(
    v,
    [...v.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : 2 * all.length - 3 - i)),
  );

function graphOf(dtype: DType, build: (g: Graph, a: Value, b: Value) => void, [da, db]: [number[], number[]]): Graph {
  const g = new Graph('fusion');
  build(g, g.input('a', dtype, ['B', ...da]), g.input('b', dtype, ['B', ...db]));
  return g;
}

describe('FusedMatMul rewrite (ORT sessions only)', () => {
  it('folds transposed operands, double transposes and transposed products, and computes the same', async () => {
    const g = graphOf(
      'float32',
      (g, a, b) => {
        g.output('aTb', g.MatMul(swap(g, a), b)); // [B,4,3]ᵀ·[B,4,5]
        g.output('aTTb', g.MatMul(swap(g, swap(g, swap(g, a))), b)); // three swaps = one
        g.output('productT', swap(g, g.MatMul(swap(g, a), b))); // (aᵀb)ᵀ = bᵀa
      },
      [
        [4, 3],
        [4, 5],
      ],
    );
    expect(opCounts(encode(g)).Transpose).toBe(6);
    const counts = opCounts(encodeForOrt(g));
    expect(counts.Transpose ?? 0).toBe(0);
    expect(counts.FusedMatMul).toBe(3);
    expect(counts.MatMul ?? 0).toBe(0);
    await expectSameAsPlain(g, randomFeeds(g, 1, 2));
  });

  it('broadcasts a 2-D operand against batched ones, as MatMul does', async () => {
    const g = new Graph('broadcast');
    const a = g.input('a', 'float32', ['B', 3, 4, 6]);
    const w = g.input('w', 'float32', [5, 6]);
    g.output('y', g.MatMul(a, swap(g, w)));
    g.output('yT', swap(g, g.MatMul(a, swap(g, w))));
    expect(opCounts(encodeForOrt(g)).Transpose ?? 0).toBe(0);
    await expectSameAsPlain(g, randomFeeds(g, 2, 2));
  });

  it('keeps a transpose that something else reads, and a product read twice', async () => {
    const g = graphOf(
      'float32',
      (g, a, b) => {
        const at = swap(g, a);
        const p = g.MatMul(at, b);
        g.output('p', p);
        g.output('pT', swap(g, p));
        g.output('at', g.Neg(at));
      },
      [
        [4, 3],
        [4, 5],
      ],
    );
    const counts = opCounts(encodeForOrt(g));
    expect(counts.Transpose).toBe(2); // aᵀ (Neg reads it) and pᵀ (p is an output too)
    expect(counts.FusedMatMul).toBe(1);
    await expectSameAsPlain(g, randomFeeds(g, 3, 2));
  });

  it('leaves float64 MatMuls to ONNX MatMul (ORT has no float64 FusedMatMul)', () => {
    const f64 = graphOf('float64', (g, a, b) => g.output('y', g.MatMul(swap(g, a), b)), [
      [4, 3],
      [4, 5],
    ]);
    expect(encodeForOrt(f64)).toEqual(encode(f64));
  });

  it('a transformer block with its gradients: no transpose feeds a MatMul, same outputs', async () => {
    const { graph, params, feeds } = transformerBlock(4);
    const rms = graph.outputs.find((o) => o.name === 'rms')?.value as Value;
    const wrt = Object.fromEntries(graph.inputs.flatMap((v) => (v.source.kind === 'input' && v.source.name in params ? [[v.source.name, v]] : [])));
    addGradients(graph, graph.ReduceSum(rms, [], false), wrt);
    const bytes = encodeForOrt(graph);
    const model = onnx.ModelProto.decode(bytes);
    const producer = new Map(model.graph?.node?.flatMap((n) => (n.output ?? []).map((o) => [o, n.opType] as const)));
    for (const n of model.graph?.node ?? []) {
      if (n.opType === 'MatMul' || n.opType === 'FusedMatMul')
        for (const i of n.input ?? []) expect(producer.get(i), `${n.name} reads ${i}`).not.toBe('Transpose');
    }
    expect(opCounts(bytes).FusedMatMul).toBeGreaterThan(0);
    await expectSameAsPlain(graph, { ...params, ...feeds(3) });
  });

  it('exports stay plain ONNX: encode never emits a com.microsoft op', () => {
    const { graph } = transformerBlock(4);
    const model = onnx.ModelProto.decode(encode(graph));
    expect(model.opsetImport?.map((o) => o.domain)).toEqual(['']);
    expect((model.graph?.node ?? []).every((n) => !n.domain)).toBe(true);
  });
});
