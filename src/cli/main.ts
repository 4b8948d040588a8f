/**
 * `apt-prune`: argv → tagged-union `Command` (commander does the parsing, each command's `parse`
 * the validation) → `dispatch`. Errors become one line and an exit code (errors.ts); nothing here
 * knows any particular command.
 */
import { Command as Commander, CommanderError } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { EXIT, errorLine, exitCodeOf, oneLine, stackOf, UsageError } from './errors.js';
import { type CliIo, context, processIo } from './io.js';
import { COMMANDS, type Command, type CommandName, dispatch } from './registry.js';

/** A parsed command line: a command to run, or an exit because commander already answered (help, version). */
export type Invocation =
  | { readonly kind: 'run'; readonly command: Command; readonly json: boolean; readonly verbose: boolean }
  | { readonly kind: 'exit'; readonly code: number };

const EXIT_CODES_HELP = `
Exit codes: 0 ok, 1 unexpected failure, 2 usage, 3 bad input (checkpoint, data), 4 missing package, 5 NaN/Inf loss.
Docs: docs/cli.md`;

function program(io: CliIo, found: (c: Command) => void): Commander {
  const p = new Commander('apt-prune')
    .description(
      'Pruning primitives for vision models on ONNX Runtime: train ViTs, SReT and CNNs on Fashion-MNIST, prune tokens (APT), channels (ResRep, L1, entropy) and weights (COPS).',
    )
    .version(pkg.version, '-V, --version', 'print the version')
    .option('--json', 'machine-readable output: one JSON object per line on stdout, no progress bar')
    .option('--verbose', 'print the stack trace with an error')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .exitOverride()
    // Commander's own errors are thrown (exitOverride) and printed once, by `fail`.
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => {} })
    .addHelpText('after', EXIT_CODES_HELP);
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    const cmd = p.command(name).description(COMMANDS[name].summary);
    COMMANDS[name].define(cmd);
    cmd.action(function (this: Commander) {
      found(bind(name, this.opts(), this.args));
    });
    // A command group (command-group.ts): each method's subcommand binds to the group, method first.
    for (const sub of cmd.commands) {
      sub.action(function (this: Commander) {
        found(bind(name, this.opts(), [sub.name(), ...this.args]));
      });
    }
  }
  return p;
}

function bind<K extends CommandName>(kind: K, opts: Record<string, unknown>, operands: readonly string[]): Command<K> {
  // TS cannot see that `{ kind: K, args: ArgsOf[K] }` is the K member of the union; it is by construction.
  return { kind, args: COMMANDS[kind].parse(opts, operands) } as Command<K>;
}

/**
 * Parses argv (without `node` and the script). Throws UsageError for anything commander or a
 * command's `parse` rejects; help and version are printed here and come back as `{ kind: 'exit' }`.
 */
export function parseArgv(argv: readonly string[], io: CliIo): Invocation {
  let command: Command | undefined;
  const p = program(io, (c) => {
    command = c;
  });
  try {
    p.parse([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return { kind: 'exit', code: EXIT.ok };
    if (e.code === 'commander.help') return { kind: 'exit', code: EXIT.usage }; // no command: help went to stderr
    throw new UsageError('', oneLine(e.message.replace(/^error: /, '')).replace('(Did you mean', '(did you mean'));
  }
  if (!command) throw new UsageError('', 'no command given (try --help)');
  const flags = p.opts<{ json?: boolean; verbose?: boolean }>();
  return { kind: 'run', command, json: flags.json === true, verbose: flags.verbose === true };
}

/** Runs `apt-prune <argv…>` against `io` and resolves to the exit code; never throws, never calls process.exit. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  // Until parsing succeeds the flags are read off argv, so even a usage error honours --json.
  let flags = { json: argv.includes('--json'), verbose: argv.includes('--verbose') };
  try {
    const inv = parseArgv(argv, io);
    if (inv.kind === 'exit') return inv.code;
    flags = inv;
    return await dispatch(inv.command, context(io, inv));
  } catch (e) {
    return fail(e, io, flags);
  }
}

function fail(e: unknown, io: CliIo, flags: { json: boolean; verbose: boolean }): number {
  const code = exitCodeOf(e);
  const line = errorLine(e, flags.verbose);
  if (io.stderr.isTTY) io.stderr.write('\r\x1b[K'); // a progress bar may own the line
  io.stderr.write(`${line}\n`);
  if (flags.verbose) io.stderr.write(`${stackOf(e)}\n`);
  if (flags.json) {
    const error = e instanceof Error ? e.name : 'Error';
    io.stdout.write(`${JSON.stringify({ kind: 'error', exitCode: code, error, message: line.slice('apt-prune: '.length) })}\n`);
  }
  return code;
}
