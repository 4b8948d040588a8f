/**
 * Typed errors. Every message names where it happened (function or op), the argument, what was
 * expected and what came, so a user can fix the call without reading our source.
 */

/** Base class: lets callers catch everything apt-prune throws on purpose. */
export interface AptPruneError extends Error {
  readonly where: string;
}

function message(where: string, what: string): string {
  return `${where}: ${what}`;
}

/** A tensor or graph value had the wrong rank or dims. */
export class ShapeError extends RangeError implements AptPruneError {
  override name = 'ShapeError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(message(where, what));
  }
}

/** A tensor or graph value had the wrong element type. */
export class DTypeError extends TypeError implements AptPruneError {
  override name = 'DTypeError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(message(where, what));
  }
}

/** A graph is malformed: unknown value, op from another graph, missing output, no gradient path. */
export class GraphError extends Error implements AptPruneError {
  override name = 'GraphError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(message(where, what));
  }
}

/** ONNX bytes could not be decoded, or use an op/attribute the op table does not support. */
export class OnnxFormatError extends Error implements AptPruneError {
  override name = 'OnnxFormatError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(message(where, what));
  }
}

/** A checkpoint (safetensors + sidecar) is malformed or does not match the model. */
export class CheckpointError extends Error implements AptPruneError {
  override name = 'CheckpointError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(message(where, what));
  }
}

/** An argument is outside its allowed range or set (not a shape or dtype problem). */
export class ValueError extends RangeError implements AptPruneError {
  override name = 'ValueError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(message(where, what));
  }
}

/** A required optional package (a data set, an LP solver) is not installed. */
export class MissingDependencyError extends Error implements AptPruneError {
  override name = 'MissingDependencyError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(message(where, what));
  }
}

/** Training produced a NaN or Inf loss; `step` is the step whose loss was not finite. */
export class NonFiniteLossError extends Error implements AptPruneError {
  override name = 'NonFiniteLossError';
  constructor(
    readonly where: string,
    readonly step: number,
    readonly loss: number,
  ) {
    super(message(where, `loss is ${loss} at step ${step}; the last good checkpoint is kept`));
  }
}

/** Formats dims for messages: `[8,3,32,32]`. */
export function fmtDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(',')}]`;
}
