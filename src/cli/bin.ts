#!/usr/bin/env node
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`apt-prune: ${(e as Error).message ?? String(e)}`);
    process.exitCode = 1;
  },
);
