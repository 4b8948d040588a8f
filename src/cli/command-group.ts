/**
 * A command with methods: `apt-prune prune resrep|l1|entropy …`. Each method is an ordinary
 * `CommandSpec` (its own flags, parse and run) and becomes a commander subcommand, so `--target` of
 * one method never collides with another's flags and `apt-prune prune l1 --help` shows only its
 * own. A new method is one more entry in the group's table. `main` binds every subcommand's action
 * to the group, passing the method name as the first operand; the group's `parse` hands the
 * operands to the method's own `parse` and tags the result.
 */
import type { CommandSpec } from './command.js';
import { UsageError } from './errors.js';

/** The argument type of a CommandSpec. */
export type SpecArgs<S> = S extends CommandSpec<infer A> ? A : never;

/** `{ method: 'l1', args: L1Args } | { method: 'resrep', args: ResrepArgs } | …` */
export type GroupArgs<M> = { [K in keyof M & string]: { readonly method: K; readonly args: SpecArgs<M[K]> } }[keyof M & string];

/** One command `name` whose methods are the entries of `methods` (in `--help` order). */
export function commandGroup<M extends { readonly [K in keyof M]: CommandSpec<SpecArgs<M[K]>> }>(
  name: string,
  summary: string,
  methods: M,
): CommandSpec<GroupArgs<M>> {
  const names = Object.keys(methods) as (keyof M & string)[];
  const spec = <K extends keyof M & string>(k: K): CommandSpec<SpecArgs<M[K]>> => methods[k];
  return {
    summary,
    define(cmd) {
      // An operand that names no method reaches `parse` (and a one-line error) instead of commander's help.
      cmd.argument('[method]', names.join(' | '));
      for (const k of names) spec(k).define(cmd.command(k).description(spec(k).summary));
    },
    parse(opts, operands) {
      const method = names.find((k) => k === operands[0]);
      if (method === undefined) throw new UsageError(name, `method must be one of ${names.join(', ')}, got '${operands[0] ?? ''}'`);
      return { method, args: spec(method).parse(opts, operands) } as GroupArgs<M>;
    },
    run(a, ctx) {
      return spec(a.method).run(a.args, ctx);
    },
  };
}
