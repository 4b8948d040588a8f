/**
 * bench/cops-table: the pruning-at-initialisation reference table. LeNet-300-100 on Fashion-MNIST
 * (the fixed split), pruned at initialisation to each sparsity with random, magnitude, SNIP,
 * GraSP, SynFlow and COPS (SNIP base, GraSP control, K1 with κ ∈ {0.25, 0.5, 0.75}), plus the
 * dense net, each trained with one recipe (`prune.cops.copsRecipe`: SGD Nesterov 0.9, lr 0.05,
 * 2% warmup + cosine, wd 5e-4, batch 128) for each seed; test accuracy mean ± std per cell.
 *
 * Each finished run is appended as one JSON line to --out (and echoed); a rerun skips the runs
 * already there, so a killed table resumes. The summary (JSON line + markdown table) is printed at
 * the end from everything in --out that matches the current --epochs / --limit-per-class.
 *
 * `npm run bench -- cops-table [--epochs=20] [--seeds=0,1,2] [--sparsities=0.9,0.95,0.98]
 *   [--methods=dense,random,magnitude,snip,grasp,synflow,cops-0.25,cops-0.5,cops-0.75]
 *   [--out=runs/cops-table.jsonl] [--limit-per-class=N] [--threads=N]`
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cnnTrainable, create } from '../src/cnn/api.js';
import { fashionMnist } from '../src/data/fashion-mnist.js';
import { maskedTrainable, sparsityReport } from '../src/prune/cops/mask.js';
import { balancedBatch, copsRecipe, type PruneMethod, pruneAtInit, SCORE_NAMES, type ScoreName } from '../src/prune/cops/run.js';
import { Rng } from '../src/tensor/rng.js';
import * as train from '../src/train/fit.js';
import { arg } from './lib/args.js';
import { round } from './lib/timing.js';

const EPOCHS = Number(arg('epochs', '20'));
const SEEDS = arg('seeds', '0,1,2').split(',').map(Number);
const SPARSITIES = arg('sparsities', '0.9,0.95,0.98').split(',').map(Number);
const METHODS = arg('methods', ['dense', ...SCORE_NAMES, 'cops-0.25', 'cops-0.5', 'cops-0.75'].join(',')).split(',');
const OUT = arg('out', 'runs/cops-table.jsonl');
const LIMIT = process.argv.some((a) => a.startsWith('--limit-per-class=')) ? Number(arg('limit-per-class', '0')) : undefined;
const THREADS = process.argv.some((a) => a.startsWith('--threads=')) ? Number(arg('threads', '1')) : undefined;

/** 'snip' → one score; 'cops-0.5' → SNIP base, GraSP control, κ = 0.5; 'dense' → no pruning. */
function parseMethod(m: string): PruneMethod | null {
  if (m === 'dense') return null;
  if ((SCORE_NAMES as readonly string[]).includes(m)) return { kind: 'score', score: m as ScoreName };
  const kappa = /^cops-([0-9.]+)$/.exec(m)?.[1];
  if (kappa !== undefined && Number(kappa) >= 0 && Number(kappa) <= 1) return { kind: 'cops', base: 'snip', control: 'grasp', kappa: Number(kappa) };
  throw new Error(`cops-table: unknown method '${m}' (dense, ${SCORE_NAMES.join(', ')}, cops-<κ>)`);
}
METHODS.forEach(parseMethod); // fail before any work

interface Row {
  readonly bench: 'cops-table';
  readonly method: string;
  readonly sparsity: number;
  readonly seed: number;
  readonly epochs: number;
  readonly limitPerClass: number | null;
  readonly testAccuracy: number;
  readonly testLoss: number;
  readonly measuredSparsity: number;
  readonly seconds: number;
  readonly [extra: string]: unknown;
}

const key = (r: Pick<Row, 'method' | 'sparsity' | 'seed' | 'epochs' | 'limitPerClass'>) =>
  JSON.stringify([r.method, r.sparsity, r.seed, r.epochs, r.limitPerClass]);
const done: Row[] = existsSync(OUT)
  ? readFileSync(OUT, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Row)
  : [];
const finished = new Set(done.map(key));

const cells = SEEDS.flatMap((seed) => METHODS.flatMap((method) => (method === 'dense' ? [0] : SPARSITIES).map((sparsity) => ({ method, sparsity, seed }))));
const todo = cells.filter((c) => !finished.has(key({ ...c, epochs: EPOCHS, limitPerClass: LIMIT ?? null })));
console.error(`cops-table: ${cells.length} runs, ${cells.length - todo.length} already in ${OUT}, ${todo.length} to go (${EPOCHS} epochs each)`);

const data = await fashionMnist(LIMIT ? { limitPerClass: LIMIT } : {});
const session = THREADS ? { intraOpThreads: THREADS } : undefined;
mkdirSync(dirname(OUT), { recursive: true });
const started = performance.now();
for (const [i, cell] of todo.entries()) {
  const t0 = performance.now();
  const model = create('lenet-300-100', { seed: cell.seed });
  const method = parseMethod(cell.method);
  const batch = balancedBatch(data.train, Math.min(10, LIMIT ?? 10), new Rng(1000 + cell.seed));
  const pruned = method ? await pruneAtInit({ model, method, sparsity: cell.sparsity, batch, seed: cell.seed, ...(session ? { session } : {}) }) : null;
  const base = await cnnTrainable(model, session ? { session } : {});
  const t = pruned ? maskedTrainable(base, pruned.masks) : base;
  await train.fit(t, copsRecipe(EPOCHS, cell.seed), { train: data.train });
  const test = await train.evaluate(t, data.test);
  const c = pruned?.combine;
  const row: Row = {
    bench: 'cops-table',
    ...cell,
    epochs: EPOCHS,
    limitPerClass: LIMIT ?? null,
    testAccuracy: test.accuracy,
    testLoss: round(test.loss, 5),
    measuredSparsity: round(sparsityReport(model).sparsity, 6),
    seconds: round((performance.now() - t0) / 1000, 1),
    ...(pruned ? { k: pruned.k, d: pruned.d, pruneSeconds: round(pruned.seconds, 2) } : {}),
    ...(c
      ? { lambda: c.lambda, baseRatio: c.baseRatio, simToBase: c.simToBase, simToControl: c.simToControl, evaluations: c.evaluations, status: c.status }
      : {}),
  };
  appendFileSync(OUT, `${JSON.stringify(row)}\n`);
  done.push(row);
  console.log(JSON.stringify(row));
  const perRun = (performance.now() - started) / 1000 / (i + 1);
  console.error(`cops-table: ${i + 1}/${todo.length} done, ~${round(perRun, 1)} s a run, ~${round((perRun * (todo.length - i - 1)) / 60, 1)} min to go`);
}

// Summary over the rows of this configuration.
const mine = done.filter((r) => r.epochs === EPOCHS && r.limitPerClass === (LIMIT ?? null));
const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean: round(100 * mean, 2), std: round(100 * std, 2), n: xs.length };
};
const table: Record<string, Record<string, { mean: number; std: number; n: number }>> = {};
for (const m of METHODS) {
  for (const s of m === 'dense' ? [0] : SPARSITIES) {
    const acc = mine.filter((r) => r.method === m && r.sparsity === s).map((r) => r.testAccuracy);
    if (acc.length === 0) continue;
    const row = table[m] ?? {};
    row[String(s)] = stats(acc);
    table[m] = row;
  }
}
console.log(
  JSON.stringify({ bench: 'cops-table-summary', epochs: EPOCHS, limitPerClass: LIMIT ?? null, metric: 'test top-1 % (mean ± sample std over seeds)', table }),
);
const header = `| method | ${SPARSITIES.map((s) => `${100 * s}%`).join(' | ')} |`;
console.log(['', header, `|---|${SPARSITIES.map(() => '---').join('|')}|`].join('\n'));
for (const [m, row] of Object.entries(table)) {
  const cellText = (s: number) => {
    const v = row[String(m === 'dense' ? 0 : s)];
    return v ? `${v.mean.toFixed(2)} ± ${v.std.toFixed(2)} (n=${v.n})` : '–';
  };
  console.log(`| ${m} | ${SPARSITIES.map(cellText).join(' | ')} |`);
}
