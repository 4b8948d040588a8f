/**
 * The subcommands, in `--help` order. A new command is one file under commands/ and one line here;
 * the tagged union `Command` and the dispatcher follow from this table.
 */
import type { CommandSpec } from './command.js';
import { aptCommand } from './commands/apt.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { pruneCommand } from './commands/prune.js';
import { sensitivityCommand } from './commands/sensitivity.js';
import { trainCommand } from './commands/train.js';
import type { Context } from './io.js';

export const COMMANDS = {
  demo: demoCommand,
  train: trainCommand,
  eval: evalCommand,
  prune: pruneCommand,
  sensitivity: sensitivityCommand,
  export: exportCommand,
  apt: aptCommand,
};

export type CommandName = keyof typeof COMMANDS;

/** Validated arguments of each command, as its `parse` returns them. */
export type ArgsOf = { [K in CommandName]: ReturnType<(typeof COMMANDS)[K]['parse']> };

/** A parsed command line: `{ kind: 'train', args: TrainArgs } | { kind: 'eval', args: EvalArgs } | …`. */
export type Command<K extends CommandName = CommandName> = { [P in K]: { readonly kind: P; readonly args: ArgsOf[P] } }[K];

// The same table seen through the union's lens: checked here, so `dispatch` needs no cast.
const specs: { readonly [K in CommandName]: CommandSpec<ArgsOf[K]> } = COMMANDS;

/** Runs a parsed command. */
export function dispatch<K extends CommandName>(cmd: Command<K>, ctx: Context): Promise<number> {
  return specs[cmd.kind].run(cmd.args, ctx);
}
