import { encode } from '../graph/encode.js';
import { compile, promiseCache, type Session, type SessionOptions } from '../graph/runtime.js';
import { writeFileAtomic } from '../io/atomic.js';
import { ValueError } from '../tensor/errors.js';
import { Rng } from '../tensor/rng.js';
import { type Tensor, tensor } from '../tensor/tensor.js';
import { checkImages, type VitModel } from '../vit/api.js';
import { numTokens, type VitConfig } from '../vit/config.js';
import { type PrunerConfig, type PrunerOptions, resolvePrunerConfig, type StrategyInput } from './config.js';
import { type PruneMode, prunedInferenceGraph } from './graphs.js';
import { type KeepPlan, tokensPerLayer } from './keep-plan.js';
import { checkScorers, initScorers, scorerParamCount } from './params.js';

export interface RunResult {
  /** Logits [B, classes]. */
  readonly logits: Tensor<'float32'>;
  /** Tokens kept after each cut layer, per sample (original indices, CLS first). */
  readonly plans: KeepPlan;
  /** Tokens entering each block, per sample [B][depth]. */
  readonly tokensPerLayer: number[][];
}

const sessions = promiseCache<Session>();

/**
 * The APT TokenPruner: one bilinear scorer per cut layer reading the block output (token ⊕ its
 * interaction with CLS) and deciding which tokens later blocks see. `run` drops tokens for real
 * (gathered graph: later blocks compute on fewer tokens) or masks them (reference form).
 */
export class TokenPruner {
  private constructor(
    readonly vit: VitConfig,
    readonly config: PrunerConfig,
    /** Pruner k's parameters under `clip_layer.{k}.{query,key,value,fc}.{weight,bias}`. */
    readonly params: Record<string, Tensor<'float32'>>,
    private readonly rng: Rng,
  ) {}

  /** Fresh pruners for `vit` (PyTorch-Linear init, one draw copied to every cut layer). */
  static create(vit: VitConfig, opts: PrunerOptions & { readonly seed?: number } = {}): TokenPruner {
    const config = resolvePrunerConfig(vit, opts);
    const rng = new Rng(opts.seed ?? 0);
    return new TokenPruner(vit, config, initScorers(vit.dim, config.cutLayers.length, rng.split()), rng);
  }

  /** Pruners from the `clip_layer.*` tensors of a state dict (others ignored); shapes checked. */
  static fromStateDict(vit: VitConfig, sd: Readonly<Record<string, Tensor>>, opts: PrunerOptions & { readonly seed?: number } = {}): TokenPruner {
    const config = resolvePrunerConfig(vit, opts);
    checkScorers('TokenPruner.fromStateDict', vit.dim, config.cutLayers.length, sd);
    const params = Object.fromEntries(Object.entries(sd).filter(([k]) => k.startsWith('clip_layer.'))) as Record<string, Tensor<'float32'>>;
    return new TokenPruner(vit, config, params, new Rng(opts.seed ?? 0));
  }

  /** The same pruners deciding by another strategy (e.g. `budget` at fixed keep counts). */
  withStrategy(strategy: StrategyInput, threshold?: number): TokenPruner {
    const config = resolvePrunerConfig(this.vit, { ...this.config, strategy, threshold });
    return new TokenPruner(this.vit, config, this.params, this.rng.split());
  }

  toStateDict(): Record<string, Tensor<'float32'>> {
    return { ...this.params };
  }

  /** Parameters of all pruners: cut layers × (3(D² + D) + 4D + 2). */
  get paramCount(): number {
    return this.config.cutLayers.length * scorerParamCount(this.vit.dim);
  }

  private session(mode: PruneMode, opts: SessionOptions): Promise<Session> {
    return sessions(JSON.stringify([this.vit, this.config, mode, opts]), () => compile(prunedInferenceGraph(this.vit, this.config, mode), opts));
  }

  /** Seeded per-sample scores for the `random` baseline, one [B, N] tensor per cut layer. */
  private randomFeeds(batch: number): Record<string, Tensor> {
    if (this.config.strategy.kind !== 'random') return {};
    const n = numTokens(this.vit);
    return Object.fromEntries(
      this.config.cutLayers.map((_, k) => [`random_score.${k}`, tensor(this.rng.fillUniform(new Float32Array(batch * n)), [batch, n])]),
    );
  }

  /** Logits and the tokens kept at each cut layer. `gathered` (default) really removes tokens. */
  async run(model: VitModel, images: Tensor, opts: { readonly mode?: PruneMode; readonly session?: SessionOptions } = {}): Promise<RunResult> {
    this.checkModel(model);
    checkImages('TokenPruner.run', this.vit, images);
    const mode = opts.mode ?? 'gathered';
    const s = await this.session(mode, opts.session ?? {});
    const b = images.dims[0] as number;
    const out = await s.run({ ...model.params, ...this.params, images, ...this.randomFeeds(b) });
    const kept = this.config.cutLayers.map((_, k) => {
      const count = out[`kept.${k}`]?.data as Float32Array;
      if (mode === 'gathered') {
        const idx = out[`index.${k}`] as Tensor<'int64'>;
        const n = idx.dims[1] as number;
        return Array.from({ length: b }, (_, r) => Int32Array.from(idx.data.subarray(r * n, r * n + (count[r] as number)), Number));
      }
      const mask = out[`mask.${k}`]?.data as Float32Array;
      const n = mask.length / b;
      return Array.from({ length: b }, (_, r) => Int32Array.from({ length: n }, (_, j) => j).filter((j) => (mask[r * n + j] as number) > 0));
    });
    const plans: KeepPlan = { cutLayers: this.config.cutLayers, kept, ...(this.config.fuse ? { fused: true } : {}) };
    return { logits: out.logits as Tensor<'float32'>, plans, tokensPerLayer: tokensPerLayer(plans, this.vit) };
  }

  /** The decisions alone (`run`'s plans). */
  async decide(model: VitModel, images: Tensor): Promise<KeepPlan> {
    return (await this.run(model, images)).plans;
  }

  /**
   * One ONNX file holding the ViT, the pruners and the token dropping (gathered), weights baked:
   * input `images` [B, C, H, W]; outputs `logits`, `kept.{k}` and `index.{k}`. Loads in any ONNX
   * Runtime; `random` keeps its `random_score.{k}` inputs. Written atomically.
   */
  async exportOnnx(model: VitModel, path: string): Promise<{ path: string; bytes: number }> {
    this.checkModel(model);
    const bytes = encode(prunedInferenceGraph(this.vit, this.config, 'gathered'), {
      initializers: { ...model.params, ...this.params },
      name: `${this.vit.name}-apt`,
    });
    await writeFileAtomic(path, bytes, 'TokenPruner.exportOnnx');
    return { path, bytes: bytes.length };
  }

  private checkModel(model: VitModel): void {
    if (model?.config?.dim !== this.vit.dim || model.config.depth !== this.vit.depth || numTokens(model.config) !== numTokens(this.vit)) {
      throw new ValueError(
        'TokenPruner',
        `model ${model?.config?.name} (dim ${model?.config?.dim}, depth ${model?.config?.depth}) does not match the pruner's ViT ${this.vit.name} (dim ${this.vit.dim}, depth ${this.vit.depth})`,
      );
    }
  }
}
