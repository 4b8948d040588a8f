/** §5.19 and bad input: checkpoint layout (repeats checked and dropped, written back), image size, KeepPlan stage, config validation. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Graph } from '../../../src/graph/builder.js';
import { readSafetensors } from '../../../src/io/safetensors.js';
import { CheckpointError, ShapeError, ValueError } from '../../../src/tensor/errors.js';
import { clone, type Tensor, zeros } from '../../../src/tensor/tensor.js';
import * as sret from '../../../src/vit/sret/index.js';
import { randn, tinyConfig } from './helpers.js';

const c = tinyConfig();
const model = sret.create(c, { seed: 3 });
const dir = mkdtempSync(join(tmpdir(), 'sret-loader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('state dicts (§5.19)', () => {
  it('exports the reference layout (repeats, num_batches_tracked) and loads it back de-duplicated', async () => {
    const sd = sret.toStateDict(model);
    const dups = sret.duplicateKeys(c);
    expect(dups.get('transformers.0.blocks.2.attn.qkv.weight')).toBe('transformers.0.blocks.0.attn.qkv.weight');
    expect(Object.keys(sd)).toHaveLength(Object.keys(model.params).length + Object.keys(model.buffers).length + dups.size + 3);
    expect(sd['patch_embed.bn1.num_batches_tracked']?.type).toBe('int64');
    const file = join(dir, 'm.safetensors');
    await sret.saveSafetensors(model, file);
    expect(Object.keys(await readSafetensors(file)).sort()).toEqual(Object.keys(sd).sort());
    const back = await sret.loadSafetensors(c, file);
    expect(Object.keys(back.params).sort()).toEqual(Object.keys(model.params).sort());
    for (const [k, t] of Object.entries(model.params)) expect(back.params[k]?.data, k).toEqual(t.data);
    const compact = sret.fromStateDict(c, sret.toStateDict(model, { layout: 'compact' }));
    expect(Object.keys(compact.params).length).toBe(Object.keys(model.params).length);
  });

  it('differing duplicates throw CheckpointError naming both keys', () => {
    const sd = sret.toStateDict(model);
    const rep = sd['transformers.1.blocks.2.mlp.fc1.weight'] as Tensor<'float32'>;
    rep.data[5] = (rep.data[5] as number) + 1e-3;
    const call = () => sret.fromStateDict(c, sd);
    expect(call).toThrow(CheckpointError);
    expect(call).toThrow(/transformers\.1\.blocks\.2\.mlp\.fc1\.weight != transformers\.1\.blocks\.0\.mlp\.fc1\.weight \(first at flat index 5/);
  });

  it('missing and extra keys are listed together', () => {
    const sd: Record<string, Tensor> = sret.toStateDict(model);
    delete sd['head.bias'];
    delete sd['transformers.2.blocks.3.coefficient2.bias'];
    sd['head_dist.weight'] = zeros([5, 32]);
    const call = () => sret.fromStateDict(c, sd);
    expect(call).toThrow(CheckpointError);
    expect(call).toThrow(/missing transformers\.2\.blocks\.3\.coefficient2\.bias, head\.bias; unexpected head_dist\.weight/);
  });

  it('a shape mismatch throws ShapeError with the key and both shapes', () => {
    const sd = sret.toStateDict(model, { layout: 'compact' });
    sd.pos_embed = zeros([1, 8, 5, 5]);
    expect(() => sret.fromStateDict(c, sd)).toThrow(ShapeError);
    expect(() => sret.fromStateDict(c, sd)).toThrow(/pos_embed: expected \[1,8,4,4\], got \[1,8,5,5\]/);
  });
});

describe('bad input', () => {
  it('a wrong image size throws ShapeError naming sret.forward and both shapes', async () => {
    await expect(sret.forward(model, randn([2, 1, 28, 28], 1))).rejects.toThrow(ShapeError);
    await expect(sret.forward(model, randn([2, 1, 28, 28], 1))).rejects.toThrow(/sret\.forward: images must be \[B, 1, 16, 16\] float32 .*got \[2,1,28,28\]/);
    const g = new Graph('stem');
    const { params, buffers } = sret.sretParams(g, c);
    expect(() => sret.classify(g, params, buffers, g.input('images', 'float32', ['B', 3, 16, 16]), c)).toThrow(/convStem: image must be \[B, 1, 16, 16\]/);
  });

  it('a KeepPlan before the last stage throws ShapeError naming the stage and its token counts', () => {
    const T = sret.SRET_PRESETS['sret-t'];
    expect(() => sret.assertPrunableStage(T, 2)).not.toThrow();
    expect(() => sret.assertPrunableStage(T, 0)).toThrow(ShapeError);
    expect(() => sret.assertPrunableStage(T, 1)).toThrow(/sret\.assertPrunableStage: .*stage 1 of sret-t has 196 tokens: .*14×14 grid .*groups \[4,1\]/);
    expect(() => sret.assertPrunableStage(T, 3)).toThrow(ValueError);
    expect(sret.stageTokens(T).map((t) => t.prunable)).toEqual([false, false, true]);
    // the forward pass refuses a replacement outside the last stage, accepts one in it
    const build = (stage: number) => {
      const g = new Graph('hook');
      const images = g.input('images', 'float32', ['B', 1, 16, 16]);
      const { params, buffers } = sret.sretParams(g, c);
      const perm = sret.permutationInputs(g, c);
      return sret.classify(g, params, buffers, images, c, { perm, afterApplication: (s, _a, x) => (s === stage ? g.Slice(x, [0], [1], [1]) : undefined) });
    };
    expect(() => build(0)).toThrow(/sret\.forwardFeatures: a KeepPlan is accepted only in the last stage/);
    expect(build(2).logits.shape).toEqual(['B', 5]);
  });

  it('configs: N % G, depth % unique, widths and image size are validated', () => {
    expect(() =>
      sret.create(
        tinyConfig({
          groups: [
            [3, 1],
            [2, 1],
            [1, 1],
          ],
        }),
      ),
    ).toThrow(/stage 0: N = 16 tokens \(4×4 grid\) is not divisible by G = 3 groups/);
    expect(() => sret.create(tinyConfig({ depth: [3, 2, 2], uniqueBlocks: [2, 1, 1] }))).toThrow(/depth\[0\] = 3 is not a multiple of uniqueBlocks\[0\] = 2/);
    expect(() => sret.create(tinyConfig({ imageSize: 18 }))).toThrow(/imageSize 18 is not divisible by the stem's total stride 4/);
    expect(() => sret.create(tinyConfig({ heads: [2, 3, 8] }))).toThrow(ValueError);
    expect(() => sret.create('sret-xl' as never)).toThrow(/unknown preset 'sret-xl'/);
    expect(clone(model.params.pos_embed as Tensor).dims).toEqual([1, 8, 4, 4]);
  });
});
