/** The `apt-prune` command: argv → subcommand. Subcommands arrive with the issues that build them. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd] = argv;
  if (cmd === 'demo') {
    console.log('apt-prune demo: trains fmnist-vit-t with the TokenPruner on Fashion-MNIST.');
    console.log('The demo arrives with the TokenPruner (issue 5); the engine it runs on is in place: run `npm test`.');
    return 0;
  }
  if (cmd === undefined || cmd === '--help' || cmd === '-h') {
    console.log('usage: apt-prune <command>\n\ncommands:\n  demo    train a ViT with the TokenPruner on Fashion-MNIST (arrives with issue 5)');
    return 0;
  }
  console.error(`apt-prune: unknown command '${cmd}' (try --help)`);
  return 2;
}
