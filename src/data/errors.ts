import type { AptPruneError } from '../tensor/errors.js';

/**
 * Data bytes (an IDX file, a data package's JSON) are malformed: bad magic, truncated, wrong
 * counts. The message names the function, the file when known, what was expected and what came.
 */
export class DataFormatError extends Error implements AptPruneError {
  override name = 'DataFormatError';
  constructor(
    readonly where: string,
    what: string,
  ) {
    super(`${where}: ${what}`);
  }
}
