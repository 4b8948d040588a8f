#!/usr/bin/env bash
# Installs the packed tarball into a scratch project, as a user would (npm install, preferring the
# local npm cache), and checks that ESM `import` and CJS `require` both load and run the public API.
set -euo pipefail
tarball=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf 'onnxruntime-node-install=skip\n' > .npmrc
npm init -y >/dev/null
ONNXRUNTIME_NODE_INSTALL=skip npm install --prefer-offline --no-audit --no-fund "$tarball" >/dev/null 2>&1 || {
  echo "check-package: npm install of $tarball failed" >&2
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefer-offline --no-audit --no-fund "$tarball" >&2
  exit 1
}
cat > esm.mjs <<'JS'
import { Graph, compile, tensor } from 'apt-prune';
const g = new Graph('t');
const x = g.input('x', 'float32', ['B', 2]);
g.output('y', g.Mul(x, x));
const s = await compile(g);
const r = await s.run({ x: tensor.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]) });
if (r.y.data[3] !== 16) throw new Error('ESM: wrong result');
s.dispose();
console.log('check-package: esm import ok');
JS
cat > cjs.cjs <<'JS'
const { Graph, compile, tensor } = require('apt-prune');
(async () => {
  const g = new Graph('t');
  const x = g.input('x', 'float32', ['B', 2]);
  g.output('y', g.Add(x, x));
  const s = await compile(g);
  const r = await s.run({ x: tensor.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]) });
  if (r.y.data[3] !== 8) throw new Error('CJS: wrong result');
  s.dispose();
  console.log('check-package: cjs require ok');
})().catch((e) => { console.error(e); process.exit(1); });
JS
node esm.mjs
node cjs.cjs
