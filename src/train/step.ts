import { backward } from '../graph/backward.js';
import type { Graph } from '../graph/builder.js';
import { compile, type Session, type SessionOptions, trainingSession } from '../graph/runtime.js';
import type { Value } from '../graph/types.js';
import { GraphError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ParamStore } from './optim.js';

/** Output name of the gradient of parameter `name`. */
export const gradName = (name: string): string => `grad:${name}`;

/**
 * Adds `loss` and the gradient of `loss` for every parameter in `params` as outputs of `g`
 * (`loss`, `grad:<name>`). Parameters the loss does not reach get zero gradients. `reported`, when
 * given, is what the `loss` output shows instead (a main loss whose gradient carries extra terms).
 */
export function addGradients(g: Graph, loss: Value, params: Readonly<Record<string, Value>>, reported: Value = loss): void {
  const names = Object.keys(params);
  const grads = backward(
    g,
    loss,
    names.map((n) => params[n] as Value),
  );
  g.output('loss', reported);
  names.forEach((n, i) => {
    g.output(gradName(n), grads[i] as Value);
  });
}

export interface StepResult {
  readonly loss: number;
  readonly grads: Record<string, Tensor<'float32'>>;
  /** Every other output of the graph (metrics such as a correct count), by name. */
  readonly outputs: Record<string, Tensor>;
}

/**
 * One compiled forward+backward graph: feed the parameters and a batch, get the loss, the
 * gradients and any extra outputs. The graph is compiled once; the batch size is free.
 */
export class GradStep implements Disposable {
  private constructor(
    readonly session: Session,
    readonly paramNames: readonly string[],
  ) {}

  /**
   * Compiles `g`, which must have outputs `loss` and `grad:<name>` for each of `paramNames` (see
   * addGradients). Session options default to `trainingSession()`: every core, no spin-waiting.
   */
  static async compile(g: Graph, paramNames: readonly string[], opts: SessionOptions = {}): Promise<GradStep> {
    const outs = new Set(g.outputs.map((o) => o.name));
    const missing = ['loss', ...paramNames.map(gradName)].filter((n) => !outs.has(n));
    if (missing.length > 0) throw new GraphError('GradStep.compile', `graph '${g.name}' lacks outputs ${missing.join(', ')}`);
    return new GradStep(await compile(g, trainingSession(opts)), [...paramNames]);
  }

  async run(params: ParamStore | Readonly<Record<string, Tensor>>, feeds: Readonly<Record<string, Tensor>>): Promise<StepResult> {
    const all: Record<string, Tensor> = { ...feeds };
    const get = (n: string) => (params instanceof Map ? params.get(n) : params[n]);
    for (const n of this.paramNames) {
      const t = get(n);
      if (!t) throw new GraphError('GradStep.run', `no value for parameter '${n}'`);
      all[n] = t;
    }
    const out = await this.session.run(all);
    const grads: Record<string, Tensor<'float32'>> = {};
    for (const n of this.paramNames) grads[n] = out[gradName(n)] as Tensor<'float32'>;
    const outputs: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(out)) if (k !== 'loss' && !k.startsWith('grad:')) outputs[k] = v;
    return { loss: Number((out.loss as Tensor).data[0]), grads, outputs };
  }

  dispose(): void {
    this.session.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
