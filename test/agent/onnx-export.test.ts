/**
 * TokenPruner.exportOnnx: one ONNX file (ViT + pruners + token removal, weights baked) that a plain
 * `ort.InferenceSession.create(bytes)` in a fresh Node process runs to the same logits, kept counts
 * and kept indices as `pruner.run`. The committed export of the golden tiny model
 * (test/fixtures/apt/tiny-apt.onnx, scripts/fixtures/export-apt-onnx.ts) is byte-identical to what
 * the exporter writes today, and is the file onnx.checker passed (onnx-check.json, written by
 * scripts/fixtures/check_apt_onnx.py; CI runs no Python).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenPruner } from '../../src/agent/index.js';
import { APT_NORM, batches, fromArrays } from '../../src/data/index.js';
import { OPSET } from '../../src/graph/onnx-proto.js';
import { readSafetensors } from '../../src/io/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { fromStateDict } from '../../src/vit/index.js';
import { expectAllclose } from '../helpers/allclose.js';
import { APT_FIXTURES, readGolden, SESSION, splitStateDict } from '../helpers/apt.js';
import type { OnnxCheck } from '../helpers/onnx-check.js';

const golden = readGolden();
/** The committed exports: without and with token fusion (the extension). */
const FILES = { plain: ['tiny-apt.onnx', 'onnx-check.json'], fused: ['tiny-apt-fused.onnx', 'onnx-check-fused.json'] } as const;
type Variant = keyof typeof FILES;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'apt-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function load(variant: Variant) {
  const { vit, pruners } = splitStateDict(await readSafetensors(new URL(golden.weights, APT_FIXTURES)));
  const pruner = TokenPruner.fromStateDict(golden.config, pruners, { cutLayers: golden.cutLayers, fuse: variant === 'fused' });
  return { model: fromStateDict(golden.config, vit), pruner };
}

/** Runs `file` on `images` with onnxruntime-node in a new Node process (no library code, no session cache). */
const CHILD = `
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
const [file, raw, dims] = process.argv.slice(1);
const s = await ort.InferenceSession.create(readFileSync(file), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
const x = new Float32Array(new Uint8Array(readFileSync(raw)).buffer);
const out = await s.run({ images: new ort.Tensor('float32', x, JSON.parse(dims)) });
console.log(JSON.stringify({ inputs: s.inputNames, outputs: Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: t.dims, data: Array.from(t.data, Number) }])) }));
`;

function runInChild(file: string, images: Tensor<'float32'>): { inputs: string[]; outputs: Record<string, { dims: number[]; data: number[] }> } {
  const raw = join(dir, `images-${images.dims[0]}.bin`);
  writeFileSync(raw, Buffer.from(images.data.buffer, images.data.byteOffset, images.data.byteLength));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, file, raw, JSON.stringify(images.dims)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`child process failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('ONNX export == run', () => {
  const ds = fromArrays(Uint8Array.from(golden.pixels.data), golden.labels.data, { c: 1, h: 28, w: 28 }, { classes: 10, norm: APT_NORM });
  const all = [...batches(ds, { batchSize: 12, reuseBuffers: false })][0]?.images as Tensor<'float32'>;
  const first = { type: 'float32', dims: [1, 1, 28, 28], data: all.data.slice(0, 784) } as Tensor<'float32'>;

  it.each([
    ['12 images (padded removal)', all, 'plain'],
    ['1 image (exact removal)', first, 'plain'],
    ['12 images, token fusion', all, 'fused'],
    ['1 image, token fusion', first, 'fused'],
  ] as const)('a fresh process running the exported file reproduces pruner.run: %s', async (_name, images, variant) => {
    const { model, pruner } = await load(variant);
    const file = join(dir, FILES[variant][0]);
    const { bytes } = await pruner.exportOnnx(model, file);
    expect(bytes).toBe(readFileSync(file).length);
    const child = runInChild(file, images);
    expect(child.inputs).toEqual(['images']); // weights baked: the file needs nothing else
    const r = await pruner.run(model, images, { session: SESSION });
    const b = images.dims[0] as number;
    expect(child.outputs.logits?.dims).toEqual([b, 10]);
    expectAllclose(child.outputs.logits?.data as number[], r.logits.data, { rtol: 1e-5, atol: 1e-6, what: 'logits (file vs run)' });
    r.plans.kept.forEach((perSample, k) => {
      expect(child.outputs[`kept.${k}`]?.data, `kept.${k}`).toEqual(perSample.map((idx) => idx.length));
      const index = child.outputs[`index.${k}`] as { dims: number[]; data: number[] };
      const n = index.dims[1] as number;
      expect(n).toBe(Math.max(...perSample.map((idx) => idx.length)));
      for (const [s, idx] of perSample.entries()) expect(index.data.slice(s * n, s * n + idx.length), `index.${k} sample ${s}`).toEqual(Array.from(idx));
    });
  });

  it.each(['plain', 'fused'] as const)(
    'the committed export (%s) is what exportOnnx writes today, and the file onnx.checker passed (full_check)',
    async (variant) => {
      const [name, check] = FILES[variant];
      const report = JSON.parse(readFileSync(new URL(check, APT_FIXTURES), 'utf8')) as OnnxCheck;
      const committed = readFileSync(new URL(name, APT_FIXTURES));
      const { model, pruner } = await load(variant);
      const file = join(dir, `again-${variant}.onnx`);
      await pruner.exportOnnx(model, file);
      const regenerate = 'regenerate: npx tsx scripts/fixtures/export-apt-onnx.ts && /usr/bin/python3 scripts/fixtures/check_apt_onnx.py';
      expect(Buffer.compare(readFileSync(file), committed), regenerate).toBe(0);
      expect(createHash('sha256').update(committed).digest('hex'), regenerate).toBe(report.sha256);
      expect(report.file).toBe(`test/fixtures/apt/${name}`);
      expect(report.checker).toEqual({ function: 'onnx.checker.check_model(model, full_check=True)', model: 'as encoded', result: 'passed' });
      expect([report.ir_version, report.opset, report.producer]).toEqual([8, OPSET, 'apt-prune']);
      expect(report.inputs).toEqual({ images: ['B', 1, 28, 28] });
      expect(Object.keys(report.outputs).sort()).toEqual(['index.0', 'index.1', 'index.2', 'kept.0', 'kept.1', 'kept.2', 'logits']);
    },
  );
});
