#!/usr/bin/env node
import { main } from './main.js';

// `apt-prune train --json | head -1`: a closed pipe ends the run quietly instead of with a stack.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
// Ctrl-C: finish the bar's line and say how to continue; checkpoints are written atomically.
process.once('SIGINT', () => {
  process.stderr.write('\napt-prune: interrupted (train --resume continues from the last checkpoint)\n');
  process.exit(130);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // main maps every error itself; reaching here is a bug in the CLI.
    process.stderr.write(`apt-prune: ${(e as Error)?.message ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
