/**
 * House rules the linter cannot express, run by `npm run lint`:
 * - no Math.random in src/ (every draw goes through the seeded Rng);
 * - only src/tensor/ndarray.ts imports ndarray / ndarray-ops;
 * - no TODO / FIXME / "not implemented" stubs in src/;
 * - files stay small: warn above 300 lines, fail above 400.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const problems: string[] = [];
const warnings: string[] = [];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

for (const file of walk(join(root, 'src'))) {
  const rel = relative(root, file);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length;
  if (/\bMath\.random\s*\(/.test(text)) problems.push(`${rel}: Math.random — use the seeded Rng`);
  if (/from ['"]ndarray(-ops)?['"]/.test(text) && !rel.endsWith('tensor/ndarray.ts') && !rel.endsWith('.d.ts')) {
    problems.push(`${rel}: imports ndarray — only src/tensor/ndarray.ts may`);
  }
  if (/\b(TODO|FIXME|XXX)\b|not implemented/i.test(text)) problems.push(`${rel}: leaves a TODO/FIXME/not-implemented stub`);
  if (lines > 400) problems.push(`${rel}: ${lines} lines (limit 400)`);
  else if (lines > 300) warnings.push(`${rel}: ${lines} lines (aim under 300)`);
}

for (const w of warnings) console.warn(`warn  ${w}`);
for (const p of problems) console.error(`error ${p}`);
if (problems.length > 0) process.exit(1);
console.log(`check-source: ${walk(join(root, 'src')).length} files ok`);
