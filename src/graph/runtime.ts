import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { DTypeError, fmtDims, GraphError, ShapeError } from '../tensor/errors.js';
import { allocate, numel, type Tensor } from '../tensor/tensor.js';
import type { Graph } from './builder.js';
import { type EncodeOptions, encode, encodeForOrt, liveSet } from './encode.js';
import type { Dim, TypeInfo } from './types.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  /**
   * Threads inside an op (default: ORT's choice, its count of physical cores — one on the 2-core VM
   * this was measured on; training steps ask for every core, see `trainingSession`). Tests use 1 for
   * determinism.
   */
  readonly intraOpThreads?: number;
  readonly interOpThreads?: number;
  /** Providers in order of preference; unavailable ones fall back to CPU with one message. */
  readonly executionProviders?: readonly ExecutionProvider[];
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write an ORT profile (JSON) with this file prefix. */
  readonly profilePrefix?: string;
  /** 'sequential' (default) runs one node at a time; 'parallel' also runs independent nodes concurrently. */
  readonly executionMode?: 'sequential' | 'parallel';
  /**
   * Let idle intra-op threads spin-wait for the next op (default: ORT's, true). Spinning threads of
   * a session that just finished take the cores from the next session's, so steps that run several
   * sessions in turn want it off (docs/engine.md, Sessions).
   */
  readonly spinWait?: boolean;
  /**
   * Fold transposed MatMul operands into ORT's FusedMatMul (float32 only; see ort-fusion.ts).
   * Changes only the model ORT runs, never what `encode` exports. Off by default: on a transformer
   * block training steps come out level and forwards 10–40% slower (docs/benchmarks.md, engine).
   */
  readonly fuseTransposes?: boolean;
}

export interface CompileOptions extends SessionOptions, EncodeOptions {}

/**
 * Session options for training steps: every core (`os.availableParallelism()`) and no spin-waiting,
 * under whatever `opts` sets. Measured on this 2-core VM (docs/engine.md, Sessions): APT training
 * 171 → 194 img/s, a transformer block's step 26–31 → 20–22 ms; batch-1 inference is the opposite
 * case (one thread fastest), which is why plain `compile` keeps ORT's defaults.
 */
export function trainingSession(opts: SessionOptions = {}): SessionOptions {
  return { intraOpThreads: availableParallelism(), spinWait: false, ...opts };
}

interface Entry {
  readonly session: Promise<ort.InferenceSession>;
  refs: number;
}

const cache = new Map<string, Entry>();
let warnedProviders = false;

// ORT reports every failure as a rejected promise too; its own native log would only print it twice.
ort.env.logLevel = 'fatal';

async function createSession(bytes: Uint8Array, o: SessionOptions): Promise<ort.InferenceSession> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: o.optimization ?? 'all',
    executionMode: o.executionMode ?? 'sequential',
    ...(o.intraOpThreads !== undefined ? { intraOpNumThreads: o.intraOpThreads } : {}),
    ...(o.interOpThreads !== undefined ? { interOpNumThreads: o.interOpThreads } : {}),
    ...(o.profilePrefix ? { enableProfiling: true, profileFilePrefix: o.profilePrefix } : {}),
    ...(o.spinWait !== undefined ? { extra: { session: { intra_op: { allow_spinning: o.spinWait ? '1' : '0' } } } } : {}),
  };
  const eps = o.executionProviders ?? ['cpu'];
  if (eps.some((e) => e !== 'cpu')) {
    try {
      // Fatal-only logging for the probe: an unavailable provider is reported once, by the line below.
      return await ort.InferenceSession.create(bytes, { ...base, executionProviders: [...eps], logSeverityLevel: 4 });
    } catch (e) {
      if (!warnedProviders) {
        warnedProviders = true;
        console.warn(`apt-prune: execution providers [${eps.join(', ')}] unavailable (${(e as Error).message.split('\n')[0]}); using CPU`);
      }
    }
  }
  return ort.InferenceSession.create(bytes, { ...base, executionProviders: ['cpu'] });
}

/**
 * A compiled graph: one ORT session (shared through a cache keyed by the model bytes and session
 * options), with feeds checked against the graph's declared types before ORT sees them.
 */
export class Session implements Disposable {
  private disposed = false;

  private constructor(
    private readonly key: string,
    private readonly ortSession: ort.InferenceSession,
    /** Declared graph inputs the model reads, by name. */
    readonly inputs: ReadonlyMap<string, TypeInfo>,
    /** Graph inputs the model does not read (feeds for them are accepted and ignored). */
    private readonly unused: ReadonlySet<string>,
    readonly outputNames: readonly string[],
    /** The encoded model (the cache key is its hash). */
    readonly bytes: Uint8Array,
  ) {}

  /** @internal */
  static async open(g: Graph, opts: CompileOptions): Promise<Session> {
    const bytes = opts.fuseTransposes ? encodeForOrt(g, opts) : encode(g, opts);
    const so: SessionOptions = {
      intraOpThreads: opts.intraOpThreads,
      interOpThreads: opts.interOpThreads,
      executionProviders: opts.executionProviders,
      optimization: opts.optimization,
      profilePrefix: opts.profilePrefix,
      executionMode: opts.executionMode,
      spinWait: opts.spinWait,
    } as SessionOptions;
    const key = createHash('sha256').update(bytes).update(JSON.stringify(so)).digest('hex');
    let entry = cache.get(key);
    if (!entry) {
      entry = { session: createSession(bytes, so), refs: 0 };
      cache.set(key, entry);
    }
    entry.refs++;
    let s: ort.InferenceSession;
    try {
      s = await entry.session;
    } catch (e) {
      cache.delete(key);
      throw new GraphError('compile', `ONNX Runtime rejected graph '${g.name}': ${(e as Error).message}`);
    }
    const live = liveSet(g).values;
    const baked = opts.initializers ?? {};
    const inputs = new Map<string, TypeInfo>();
    const unused = new Set<string>();
    for (const v of g.inputs) {
      const name = (v.source as { name: string }).name;
      if (baked[name]) continue;
      if (live.has(v)) inputs.set(name, { dtype: v.dtype, shape: v.shape });
      else unused.add(name);
    }
    return new Session(
      key,
      s,
      inputs,
      unused,
      g.outputs.map((o) => o.name),
      bytes,
    );
  }

  /**
   * Runs the model. `feeds` must give every input the model reads, with the declared dtype and
   * dims (a symbol such as 'B' must take the same size everywhere). Returns plain tensors
   * (`{ type, dims, data }`), for every output or for the names in `fetch`.
   */
  async run(feeds: Readonly<Record<string, Tensor>>, fetch?: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new GraphError('Session.run', 'session was disposed');
    const ortFeeds: Record<string, ort.Tensor> = {};
    const bound = new Map<string, number>();
    for (const name of Object.keys(feeds)) {
      if (!this.inputs.has(name) && !this.unused.has(name)) {
        throw new GraphError('Session.run', `unknown input '${name}'; inputs are ${[...this.inputs.keys()].join(', ')}`);
      }
    }
    for (const [name, t] of this.inputs) {
      const f = feeds[name];
      if (!f) throw new GraphError('Session.run', `missing input '${name}' (${fmtDims(t.shape)} ${t.dtype})`);
      checkFeed(name, f, t, bound);
      ortFeeds[name] = new ort.Tensor(f.type, f.data as never, [...f.dims]);
    }
    const want = fetch ?? this.outputNames;
    for (const n of want)
      if (!this.outputNames.includes(n)) throw new GraphError('Session.run', `unknown output '${n}'; outputs are ${this.outputNames.join(', ')}`);
    const res = await this.ortSession.run(ortFeeds, [...want]);
    const out: Record<string, Tensor> = {};
    for (const n of want) {
      const r = res[n] as ort.Tensor;
      out[n] = { type: r.type as Tensor['type'], dims: [...r.dims], data: r.data as Tensor['data'] };
    }
    return out;
  }

  /** Releases this handle; the ORT session is released when its last handle goes. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const entry = cache.get(this.key);
    if (entry && --entry.refs <= 0) {
      cache.delete(this.key);
      void this.ortSession.release();
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function checkFeed(name: string, f: Tensor, t: TypeInfo, bound: Map<string, number>): void {
  if (!f || typeof f !== 'object' || !('data' in f) || !Array.isArray(f.dims)) {
    throw new DTypeError(
      'Session.run',
      `input '${name}' must be a Tensor { type, dims, data }, got ${f && typeof f === 'object' ? JSON.stringify(Object.keys(f)) : typeof f}`,
    );
  }
  if (f.type !== t.dtype) throw new DTypeError('Session.run', `input '${name}' must be ${t.dtype}, got ${f.type}`);
  const storage = allocate(t.dtype, 0).constructor;
  if (!(f.data instanceof storage)) {
    throw new DTypeError('Session.run', `input '${name}' (${t.dtype}) needs data in a ${storage.name}, got ${(f.data as object)?.constructor?.name}`);
  }
  const bad = () => new ShapeError('Session.run', `input '${name}' must be ${fmtDims(t.shape)}, got ${fmtDims(f.dims)}`);
  if (f.dims.length !== t.shape.length) throw bad();
  t.shape.forEach((d: Dim, i) => {
    const got = f.dims[i] as number;
    if (typeof d === 'number') {
      if (d !== got) throw bad();
    } else {
      const prev = bound.get(d);
      if (prev !== undefined && prev !== got) {
        throw new ShapeError('Session.run', `input '${name}' axis ${i} is '${d}' = ${got}, but another input bound '${d}' = ${prev}`);
      }
      bound.set(d, got);
    }
  });
  if (f.data.length !== numel(f.dims))
    throw new ShapeError('Session.run', `input '${name}' has ${f.data.length} elements, dims ${fmtDims(f.dims)} need ${numel(f.dims)}`);
}

/** Compiles a graph into a (cached) ORT session. Dispose it when done. */
export function compile(g: Graph, opts: CompileOptions = {}): Promise<Session> {
  return Session.open(g, opts);
}

/** Number of distinct ORT sessions alive in the cache (for leak checks). */
export function cachedSessionCount(): number {
  return cache.size;
}

/**
 * A keyed cache of promises (compiled sessions, gradient steps): `make` runs once per key, and a
 * rejected promise is dropped so the next call tries again.
 * `const cached = promiseCache<Session>(); cached(JSON.stringify(config), () => compile(g))`.
 */
export function promiseCache<T>(): (key: string, make: () => Promise<T>) => Promise<T> {
  const entries = new Map<string, Promise<T>>();
  return (key, make) => {
    let p = entries.get(key);
    if (!p) {
      p = make();
      entries.set(key, p);
      p.catch(() => entries.delete(key));
    }
    return p;
  };
}
