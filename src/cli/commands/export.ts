import { writeFileAtomic } from '../../io/atomic.js';
import { loadCheckpoint } from '../../io/checkpoint.js';
import { countMacs } from '../../prune/macs.js';
import { applyPlan, parsePlan } from '../../prune/plan.js';
import { resrepModelFrom } from '../../prune/resrep/cnn.js';
import { cnnFromCheckpoint, exportCnnOnnx } from '../../prune/resrep/run.js';
import { defineCommand } from '../command.js';
import { EXIT } from '../errors.js';
import { type RawOptions, stringFlag } from '../flags.js';

export interface ExportArgs {
  readonly checkpoint: string;
  readonly out: string;
  readonly plan: string | undefined;
}

const W = 'export';

export function parseExportArgs(o: RawOptions): ExportArgs {
  return {
    checkpoint: stringFlag(W, '--checkpoint', o['checkpoint']),
    out: stringFlag(W, '--out', o['out']),
    plan: o['plan'] === undefined ? undefined : stringFlag(W, '--plan', o['plan']),
  };
}

/** `apt-prune export`: a CNN checkpoint (optionally with a pruning plan re-applied) → an ONNX file. */
export const exportCommand = defineCommand({
  summary: 'write a CNN checkpoint as an ONNX file (weights baked in); with --plan, re-apply a pruning plan first',
  define(cmd) {
    cmd
      .requiredOption('--checkpoint <path>', 'checkpoint prefix or file (cnn config in its sidecar), e.g. runs/rr/pruned')
      .requiredOption('--out <file>', 'ONNX file to write')
      .option('--plan <plan.json>', 'pruning plan to re-apply to the checkpoint (its source) before exporting')
      .addHelpText(
        'after',
        '\nExamples:\n  apt-prune export --checkpoint runs/rr/pruned --out rr.onnx\n  apt-prune export --checkpoint runs/rr/train --plan runs/rr/plan.json --out rr.onnx',
      );
  },
  parse: (opts) => parseExportArgs(opts),
  async run(a, ctx) {
    const ck = await loadCheckpoint(a.checkpoint);
    let model = cnnFromCheckpoint(ck);
    if (a.plan) {
      const { readFile } = await import('node:fs/promises');
      const plan = parsePlan(JSON.parse(await readFile(a.plan, 'utf8')));
      const src = model.config.layers.some((l) => l.name.endsWith('.compactor')) ? resrepModelFrom(model.config, model.params) : model;
      model = applyPlan(src, plan, { sha256: ck.sha256 });
    }
    const bytes = exportCnnOnnx(model);
    await writeFileAtomic(a.out, bytes);
    const macs = countMacs(model).total;
    ctx.emit({
      kind: 'summary',
      command: 'export',
      checkpoint: ck.paths.tensors,
      sha256: ck.sha256,
      out: a.out,
      bytes: bytes.length,
      model: model.config.name,
      macs,
    });
    ctx.print(
      `wrote ${a.out} (${bytes.length.toLocaleString('en-US')} bytes, ${model.config.name}, ${macs.toLocaleString('en-US')} MACs) from ${ck.paths.tensors}`,
    );
    return EXIT.ok;
  },
});
