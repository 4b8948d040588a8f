import { loadAptCheckpoint } from '../../agent/checkpoint.js';
import type { StrategyInput } from '../../agent/config.js';
import { validLines } from '../../agent/report.js';
import { fashionMnist } from '../../data/index.js';
import type { DistillOptions, RewardContext } from '../../train/apt-recipe.js';
import { APT_RECIPES, type AptRecipeName, aptProgress, aptReport, finetune, recipeByName, spread, writeTokenMaps } from '../apt-run.js';
import { defineCommand } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { choiceFlag, intFlag, option, optionalInt, positiveFlag, type RawOptions, stringFlag } from '../flags.js';
import { createProgress } from '../progress.js';

export const APT_ACTIONS = ['train', 'eval', 'export', 'viz'] as const;
const REWARD_CONTEXTS = ['plain', 'pruned'] as const;
type Action = (typeof APT_ACTIONS)[number];

export interface AptArgs {
  readonly action: Action;
  readonly checkpoint: string;
  readonly out: string | undefined;
  /** Undefined: the checkpoint's strategy (a plain checkpoint: threshold, APT's). */
  readonly strategy: StrategyInput | undefined;
  readonly recipe: AptRecipeName;
  /** Peak SGD rate (train); undefined: the recipe's own (1e-2 fmnist-finetune, 3e-2 apt-paper). */
  readonly lr: number | undefined;
  readonly updates: number;
  readonly seed: number;
  readonly images: number;
  readonly limitPerClass: number | undefined;
  readonly distill: DistillOptions | undefined;
  /** Intra-op threads of the training sessions (train); undefined: every core. */
  readonly threads: number | undefined;
  /** Token fusion (train, extension); undefined keeps the checkpoint's choice. */
  readonly fuse: boolean | undefined;
  /** Where stream 2 measures a token's removal (train, extension); undefined: 'plain', the source. */
  readonly rewardContext: RewardContext | undefined;
  /** Weight of stream 1's loss gradient into the pruners (train, extension); undefined: none, the source. */
  readonly taskGrad: number | undefined;
  /** Weight of the EViT prior on the budget pruners (train, extension); undefined: none, the source. */
  readonly attentionPrior: number | undefined;
  /** Updates over which static counts warm up from all tokens (train, extension); undefined: none, the source. */
  readonly keepWarmup: number | undefined;
}

const W = 'apt';

/** The strategy override for loadAptCheckpoint / finetune: none unless --strategy was given. */
const strategyOf = (a: AptArgs): { strategy?: StrategyInput } => (a.strategy === undefined ? {} : { strategy: a.strategy });

/** `threshold` (τ = 0.5), `threshold:0.6` (τ), `budget:0.7`, `evit:0.7`, `random:0.7` (keep rate per cut layer). */
export function parseStrategy(s: string): StrategyInput {
  if (s === 'threshold') return 'threshold';
  const t = /^threshold:(0(\.\d+)?)$/.exec(s);
  if (t) return { kind: 'threshold', tau: Number(t[1]) };
  const m = /^(budget|evit|random):(0(\.\d+)?|1(\.0+)?)$/.exec(s);
  if (!m || !(Number(m[2]) > 0))
    throw new UsageError(
      W,
      `--strategy must be threshold, threshold:<τ in [0, 1)>, budget:<rate>, evit:<rate> or random:<rate> with a keep rate in (0, 1], got '${s}'`,
    );
  return { kind: m[1] as 'budget' | 'evit' | 'random', keepRate: Number(m[2]) };
}

/**
 * `--distill 0.5` (α; T = 1, frozen teacher), `0.5:2` (α:T) or `0.5:2:live` (α:T:teacher): the
 * opt-in distillation of stream 1 from a plain model.
 */
export function parseDistill(s: string | undefined): DistillOptions | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d*\.?\d+)(?::(\d*\.?\d+)(?::(frozen|live))?)?$/.exec(s);
  const alpha = Number(m?.[1]);
  const temperature = m?.[2] === undefined ? 1 : Number(m[2]);
  if (!m || !(alpha > 0 && alpha <= 1) || !(temperature > 0))
    throw new UsageError(W, `--distill must be <α in (0, 1]>[:<T > 0>[:frozen|live]], e.g. 0.5, 0.5:2 or 0.5:1:live, got '${s}'`);
  return { alpha, temperature, teacher: (m[3] as 'frozen' | 'live' | undefined) ?? 'frozen' };
}

export function parseAptArgs(o: RawOptions, operands: readonly string[]): AptArgs {
  const action = choiceFlag(W, 'action', operands[0], APT_ACTIONS);
  const out = o['out'] === undefined ? undefined : stringFlag(W, '--out', o['out']);
  if ((action === 'train' || action === 'export' || action === 'viz') && !out) throw new UsageError(W, `apt ${action} needs --out`);
  return {
    action,
    checkpoint: stringFlag(W, '--checkpoint', o['checkpoint']),
    out,
    strategy: o['strategy'] === undefined ? undefined : parseStrategy(stringFlag(W, '--strategy', o['strategy'])),
    recipe: choiceFlag(W, '--recipe', o['recipe'], APT_RECIPES),
    lr: o['lr'] === undefined ? undefined : positiveFlag(W, '--lr', o['lr']),
    updates: intFlag(W, '--updates', o['updates']),
    seed: intFlag(W, '--seed', o['seed'], 0),
    images: intFlag(W, '--images', o['images']),
    limitPerClass: optionalInt(W, '--limit-per-class', o['limitPerClass']),
    distill: parseDistill(o['distill'] === undefined ? undefined : stringFlag(W, '--distill', o['distill'])),
    threads: optionalInt(W, '--threads', o['threads']),
    fuse: o['fuse'] === undefined ? undefined : o['fuse'] === true,
    rewardContext: o['rewardContext'] === undefined ? undefined : choiceFlag(W, '--reward-context', o['rewardContext'], REWARD_CONTEXTS),
    taskGrad: o['taskGrad'] === undefined ? undefined : positiveFlag(W, '--task-grad', o['taskGrad']),
    attentionPrior: o['attnPrior'] === undefined ? undefined : positiveFlag(W, '--attn-prior', o['attnPrior']),
    keepWarmup: optionalInt(W, '--keep-warmup', o['keepWarmup']),
  };
}

/** `apt-prune apt train|eval|export|viz`: the TokenPruner from the command line. */
export const aptCommand = defineCommand({
  summary: 'TokenPruner: fine-tune a ViT with it (train), report accuracy and tokens (eval), write one ONNX file (export), draw token maps (viz)',
  define(cmd) {
    cmd
      .argument('<action>', APT_ACTIONS.join(' | '))
      .requiredOption('--checkpoint <path>', 'a ViT checkpoint (apt-prune train) or an APT checkpoint (apt train)')
      .option('--out <path>', 'train: run directory; export: .onnx file; viz: .png file')
      .option(
        '--strategy <s>',
        "threshold[:τ] (APT, τ = 0.5) | budget:<rate> | evit:<rate> | random:<rate> (default: the checkpoint's; threshold for a plain ViT checkpoint)",
      )
      .addOption(option('--recipe <name>', APT_RECIPES.join(' | '), 'fmnist-finetune'))
      .option('--lr <x>', "train: peak SGD rate (default: the recipe's, 1e-2 for fmnist-finetune, 3e-2 for apt-paper)")
      .addOption(option('--updates <n>', 'optimizer updates (train)', '300'))
      .addOption(option('--seed <n>', 'seed of pruner init, data order and exploration', '0'))
      .addOption(option('--images <n>', 'per-image reports (eval) or token maps (viz)', '8'))
      .option('--limit-per-class <k>', 'only the first k images of each class')
      .option('--threads <t>', 'train: ONNX Runtime intra-op threads of the training steps (default: all cores)')
      .option(
        '--reward-context <c>',
        "train: where stream 2 measures a token's removal — plain (the source: from the plain model) | pruned (extension: inside stream 1's pruned state)",
      )
      .option(
        '--task-grad <λ>',
        "train, extension: the pruners also learn from stream 1's loss through straight-through key gates, weight λ (default: off, as the source)",
      )
      .option(
        '--attn-prior <β>',
        "train, extension, budget only: the pruners also learn EViT's decisions (top-k CLS attention on the plain forward), weight β (default: off, as the source)",
      )
      .option(
        '--keep-warmup <n>',
        "train, extension, budget / evit / random: start at all tokens and lower the counts along a cosine over the first n updates (EViT's schedule; default: off, as the source)",
      )
      .option('--fuse', 'train, extension (EViT): merge the dropped tokens into one token weighted by CLS attention (default: off, as the source)')
      .option(
        '--distill <α[:T]>',
        'train, extension: stream 1 loss (1 − α)·CE + α·T²·KL(teacher ‖ pruned), teacher frozen (the ViT as training starts, default) or live (default: off, as the source)',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  apt-prune apt train --checkpoint assets/fmnist-vit-t --out runs/apt --updates 600\n  apt-prune apt eval --checkpoint runs/apt/best-pruned\n  apt-prune apt export --checkpoint runs/apt/best-pruned --out fmnist-apt.onnx',
      );
  },
  parse: parseAptArgs,
  async run(a, ctx) {
    const progress = createProgress(ctx);
    try {
      if (a.action === 'export') {
        const { model, pruner } = await loadAptCheckpoint(a.checkpoint, { ...strategyOf(a), seed: a.seed });
        const r = await pruner.exportOnnx(model, a.out as string);
        ctx.emit({ kind: 'summary', command: 'apt export', ...r });
        ctx.print(`wrote ${r.path} (${(r.bytes / 1e6).toFixed(2)} MB): ViT + ${pruner.config.cutLayers.length} pruners + token dropping, one graph`);
        return EXIT.ok;
      }
      progress.phase('loading Fashion-MNIST');
      const data = await fashionMnist({ validation: true, limitPerClass: a.limitPerClass });
      if (a.action === 'train') {
        const recipe = {
          ...recipeByName(a.recipe, a.updates, a.seed, a.lr),
          ...(a.distill ? { distill: a.distill } : {}),
          ...(a.rewardContext ? { rewardContext: a.rewardContext } : {}),
          ...(a.taskGrad ? { taskGrad: a.taskGrad } : {}),
          ...(a.attentionPrior ? { attentionPrior: a.attentionPrior } : {}),
          ...(a.keepWarmup ? { keepWarmup: a.keepWarmup } : {}),
        };
        const r = await finetune(
          {
            checkpoint: a.checkpoint,
            ...strategyOf(a),
            recipe,
            out: a.out as string,
            seed: a.seed,
            train: data.train,
            val: data.val,
            ...(a.threads === undefined ? {} : { session: { intraOpThreads: a.threads } }),
            ...(a.fuse === undefined ? {} : { fuse: a.fuse }),
          },
          aptProgress(ctx, progress),
        );
        progress.end();
        ctx.emit({ kind: 'summary', command: 'apt train', ...r.result });
        ctx.print(
          `best val accuracy: plain ${(100 * r.result.bestPlain.accuracy).toFixed(2)}% · pruned ${(100 * r.result.bestPruned.accuracy).toFixed(2)}% (update ${r.result.bestPruned.update}); checkpoints in ${a.out}`,
        );
        return EXIT.ok;
      }
      const { model, pruner } = await loadAptCheckpoint(a.checkpoint, { ...strategyOf(a), seed: a.seed });
      if (a.action === 'viz') {
        await writeTokenMaps(a.out as string, model, pruner, spread(data.test, a.images));
        ctx.print(`wrote ${a.out}: ${a.images} test images, dropped patches greyed after cut layers ${pruner.config.cutLayers.join(', ')}`);
        return EXIT.ok;
      }
      const sample = await aptReport(model, pruner, spread(data.test, a.images), undefined, a.images);
      const r = await aptReport(model, pruner, data.test, (done) => progress.phase('evaluating test', done, data.test.n));
      progress.end();
      for (const lines of sample.perImage) for (const l of lines) ctx.print(l);
      for (const l of validLines(r.prunedLoss, r.prunedAccuracy)) ctx.print(l);
      ctx.print(
        `plain accuracy ${(100 * r.plainAccuracy).toFixed(2)}% · tokens kept after cut layers ${pruner.config.cutLayers.join('/')}: ${r.keptMean.map((k) => k.toFixed(1)).join(' / ')} · MACs ${r.macsRatio.toFixed(3)} of plain`,
      );
      const summary = {
        plainAccuracy: r.plainAccuracy,
        prunedAccuracy: r.prunedAccuracy,
        prunedLoss: r.prunedLoss,
        keptMean: r.keptMean,
        macsRatio: r.macsRatio,
      };
      ctx.emit({ kind: 'summary', command: 'apt eval', ...summary, perImage: sample.perImage, cutLayers: pruner.config.cutLayers });
      return EXIT.ok;
    } finally {
      progress.end();
    }
  },
});
