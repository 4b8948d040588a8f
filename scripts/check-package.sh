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
import { Graph, compile, tensor, TokenPruner, reward, vit } from 'apt-prune';
const g = new Graph('t');
const x = g.input('x', 'float32', ['B', 2]);
g.output('y', g.Mul(x, x));
const s = await compile(g);
const r = await s.run({ x: tensor.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]) });
if (r.y.data[3] !== 16) throw new Error('ESM: wrong result');
s.dispose();
// The headline API: a TokenPruner on a fresh fmnist-vit-t drops tokens for real, and the reward is a pure function.
const model = vit.create('fmnist-vit-t', { seed: 0 });
const pruner = TokenPruner.create(model.config, { seed: 0 });
const images = tensor.tensor(new Float32Array(2 * 784).fill(0.1), [2, 1, 28, 28]);
const run = await pruner.run(model, images);
if (run.logits.dims.join() !== '2,10' || run.plans.kept.length !== 3) throw new Error('ESM: TokenPruner.run');
const rw = reward.pruningReward({ logitsPlain: run.logits, logitsPruned: run.logits, labels: tensor.tensor(new Int32Array([0, 1]), [2]), kind: 'prob' });
if (rw.length !== 2 || rw[0] !== 0) throw new Error('ESM: reward.pruningReward');
console.log('check-package: esm import ok (Graph, compile, TokenPruner, reward)');
JS
cat > cjs.cjs <<'JS'
const { Graph, compile, tensor, TokenPruner, reward, vit } = require('apt-prune');
(async () => {
  const g = new Graph('t');
  const x = g.input('x', 'float32', ['B', 2]);
  g.output('y', g.Add(x, x));
  const s = await compile(g);
  const r = await s.run({ x: tensor.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]) });
  if (r.y.data[3] !== 8) throw new Error('CJS: wrong result');
  s.dispose();
  const model = vit.create('fmnist-vit-t', { seed: 0 });
  const pruner = TokenPruner.create(model.config, { seed: 0 });
  const out = await pruner.run(model, tensor.tensor(new Float32Array(784), [1, 1, 28, 28]));
  if (out.tokensPerLayer[0].length !== 6 || typeof reward.rewardLabels !== 'function') throw new Error('CJS: TokenPruner / reward');
  console.log('check-package: cjs require ok (Graph, compile, TokenPruner, reward)');
})().catch((e) => { console.error(e); process.exit(1); });
JS
node esm.mjs
node cjs.cjs
