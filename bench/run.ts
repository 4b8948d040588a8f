/** `npm run bench -- <name> [args]`: runs bench/<name>.ts (engine, engine-fusion, engine-threads, vit, apt, apt-fusion, apt-swap, apt-tau, apt-counts, apt-gradnorm, resrep, cops, cops-table, sret, filters). */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const [name, ...rest] = process.argv.slice(2);
const dir = new URL('.', import.meta.url).pathname;
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''));
if (!name || !existsSync(`${dir}${name}.ts`)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [args]`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
