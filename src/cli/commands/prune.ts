/**
 * `apt-prune prune <method>`: structured pruning methods, one subcommand each (command-group.ts).
 * A new method is one line here.
 */
import { commandGroup } from '../command-group.js';
import { pruneCopsCommand } from './prune-cops.js';
import { pruneEntropyCommand, pruneL1Command } from './prune-filters.js';
import { pruneResrepCommand } from './prune-resrep.js';

export const pruneCommand = commandGroup(
  'prune',
  'pruning: resrep (compactors to a MACs target), l1 / entropy (filter ranking with sensitivity-chosen ratios, then a retrain), cops (pruning at initialisation: SNIP/GraSP/SynFlow and their LP combiner)',
  {
    resrep: pruneResrepCommand,
    l1: pruneL1Command,
    entropy: pruneEntropyCommand,
    cops: pruneCopsCommand,
  },
);
