import { defineCommand } from '../command.js';
import { EXIT } from '../errors.js';

/** `apt-prune demo`: the TokenPruner demo's place; until the APT issue lands it says so and exits 0. */
export const demoCommand = defineCommand({
  summary: 'train a ViT with the TokenPruner on Fashion-MNIST (arrives with the APT issue)',
  define(cmd) {
    cmd.addHelpText('after', '\nThe TokenPruner demo arrives with the APT issue; until then this command only says so.');
  },
  parse: () => ({}),
  async run(_args, ctx) {
    const message =
      'The TokenPruner demo arrives with the APT issue; it is not in this version. ' +
      'Meanwhile `apt-prune train --preset fmnist-vit-t --epochs 1 --out runs/t` trains the ViT it will prune.';
    ctx.print(`apt-prune demo: ${message}`);
    ctx.emit({ kind: 'summary', command: 'demo', available: false, message });
    return EXIT.ok;
  },
});
