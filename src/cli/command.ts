import type { Command as Commander } from 'commander';
import type { RawOptions } from './flags.js';
import type { Context } from './io.js';

/**
 * One subcommand. A command file exports one of these and `registry.ts` lists it under its name:
 * that is all a new command (`apt`, `prune`, `export`, …) needs.
 *
 * The split keeps parsing pure: `define` declares flags on commander, `parse` turns what commander
 * collected into validated, typed `A` (throwing UsageError, doing no I/O), and only `run` acts.
 */
export interface CommandSpec<A> {
  /** One line for `apt-prune --help`. */
  readonly summary: string;
  /** Declares options, arguments and extra help text on the command's commander instance. */
  define(cmd: Commander): void;
  /** Commander's options and operands → validated arguments. Throws UsageError; no I/O. */
  parse(opts: RawOptions, operands: readonly string[]): A;
  /** Runs the command; resolves to its exit code (errors are thrown and mapped by `main`). */
  run(args: A, ctx: Context): Promise<number>;
}

/** Identity with inference: `export const train = defineCommand({ … })` types `A` from `parse`. */
export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}
