import { ValueError } from '../tensor/errors.js';

/**
 * A CNN as a list of layers, each producing a value named after it and reading the named values
 * of earlier layers (`'input'` is the image). Enough for ResNets (residual adds), VGGs and MLPs,
 * and small enough to analyse: pruning finds producers and consumers of channels from it.
 */
export type Layer =
  | {
      readonly kind: 'conv';
      readonly name: string;
      readonly input: string;
      readonly out: number;
      readonly kernel: number;
      readonly stride: number;
      readonly pad: number;
      readonly bias: boolean;
    }
  | { readonly kind: 'bn'; readonly name: string; readonly input: string; readonly eps: number; readonly momentum: number }
  | { readonly kind: 'relu'; readonly name: string; readonly input: string }
  | { readonly kind: 'add'; readonly name: string; readonly inputs: readonly [string, string] }
  | { readonly kind: 'maxpool'; readonly name: string; readonly input: string; readonly kernel: number; readonly stride: number }
  | { readonly kind: 'gap'; readonly name: string; readonly input: string }
  | { readonly kind: 'flatten'; readonly name: string; readonly input: string }
  | { readonly kind: 'linear'; readonly name: string; readonly input: string; readonly out: number; readonly bias: boolean };

export interface CnnConfig {
  readonly kind: 'cnn';
  readonly name: string;
  readonly inChans: number;
  readonly imageSize: number;
  readonly numClasses: number;
  readonly layers: readonly Layer[];
  /** Name of the layer whose value is the logits [B, numClasses]. */
  readonly output: string;
}

export type CnnPreset = 'fmnist-resnet20' | 'lenet-300-100' | 'fmnist-vgg8';

const BN = { eps: 1e-5, momentum: 0.1 };

/** conv → BN (→ ReLU), the unit every preset is built of. Returns the name of its output. */
function convBn(
  layers: Layer[],
  name: string,
  input: string,
  out: number,
  kernel: number,
  stride: number,
  relu: boolean,
  bnName = name.replace(/conv(\d*)$/, 'bn$1'),
): string {
  layers.push({ kind: 'conv', name, input, out, kernel, stride, pad: (kernel - 1) >> 1, bias: false });
  layers.push({ kind: 'bn', name: bnName, input: name, ...BN });
  if (!relu) return bnName;
  layers.push({ kind: 'relu', name: `${bnName}.relu`, input: bnName });
  return `${bnName}.relu`;
}

/**
 * ResNet-20 for 28×28×1 (He et al.'s CIFAR ResNet, n = 3): conv3×3 16 → 3 stages of 3 basic blocks
 * (16, 32, 64 channels; stride 2 at the start of stages 2 and 3) → global average pool → linear.
 * Down-sampling shortcuts are 1×1 conv + BN projections ("option B"). Grids 28 → 14 → 7.
 */
function resnet20(): CnnConfig {
  const layers: Layer[] = [];
  let x = convBn(layers, 'conv1', 'input', 16, 3, 1, true);
  let inWidth = 16;
  [16, 32, 64].forEach((width, s) => {
    for (let b = 0; b < 3; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      const h = convBn(layers, `${p}.conv1`, x, width, 3, stride, true);
      const y = convBn(layers, `${p}.conv2`, h, width, 3, 1, false);
      let shortcut = x;
      if (stride !== 1 || inWidth !== width) {
        layers.push({ kind: 'conv', name: `${p}.shortcut.0`, input: x, out: width, kernel: 1, stride, pad: 0, bias: false });
        layers.push({ kind: 'bn', name: `${p}.shortcut.1`, input: `${p}.shortcut.0`, ...BN });
        shortcut = `${p}.shortcut.1`;
      }
      layers.push({ kind: 'add', name: `${p}.add`, inputs: [y, shortcut] });
      layers.push({ kind: 'relu', name: `${p}.relu`, input: `${p}.add` });
      x = `${p}.relu`;
      inWidth = width;
    }
  });
  layers.push(
    { kind: 'gap', name: 'pool', input: x },
    { kind: 'flatten', name: 'flatten', input: 'pool' },
    { kind: 'linear', name: 'fc', input: 'flatten', out: 10, bias: true },
  );
  return { kind: 'cnn', name: 'fmnist-resnet20', inChans: 1, imageSize: 28, numClasses: 10, layers, output: 'fc' };
}

/** LeNet-300-100: 784 → 300 → 100 → 10 with ReLU (the SNIP/GraSP/COPS reference MLP). */
function lenet300100(): CnnConfig {
  const layers: Layer[] = [{ kind: 'flatten', name: 'flatten', input: 'input' }];
  let x = 'flatten';
  [300, 100].forEach((out, i) => {
    layers.push({ kind: 'linear', name: `fc${i + 1}`, input: x, out, bias: true }, { kind: 'relu', name: `fc${i + 1}.relu`, input: `fc${i + 1}` });
    x = `fc${i + 1}.relu`;
  });
  layers.push({ kind: 'linear', name: 'fc3', input: x, out: 10, bias: true });
  return { kind: 'cnn', name: 'lenet-300-100', inChans: 1, imageSize: 28, numClasses: 10, layers, output: 'fc3' };
}

/**
 * A small VGG for 28×28×1: [32, 32, M, 64, 64, M, 128, 128, M] conv3×3-BN-ReLU, max-pool 2×2
 * (28 → 14 → 7 → 3), flatten (128·3·3 = 1152) → linear 256 → ReLU → linear 10. Eight weight layers;
 * the flatten → linear consumer exercises the NCHW column blocks of structured pruning.
 */
function vgg8(): CnnConfig {
  const layers: Layer[] = [];
  let x = 'input';
  let n = 0;
  let pool = 0;
  for (const v of [32, 32, 'M', 64, 64, 'M', 128, 128, 'M'] as const) {
    if (v === 'M') {
      pool++;
      layers.push({ kind: 'maxpool', name: `pool${pool}`, input: x, kernel: 2, stride: 2 });
      x = `pool${pool}`;
    } else x = convBn(layers, `features.conv${n++}`, x, v, 3, 1, true, `features.bn${n - 1}`);
  }
  layers.push(
    { kind: 'flatten', name: 'flatten', input: x },
    { kind: 'linear', name: 'classifier.fc1', input: 'flatten', out: 256, bias: true },
    { kind: 'relu', name: 'classifier.relu', input: 'classifier.fc1' },
    { kind: 'linear', name: 'classifier.fc2', input: 'classifier.relu', out: 10, bias: true },
  );
  return { kind: 'cnn', name: 'fmnist-vgg8', inChans: 1, imageSize: 28, numClasses: 10, layers, output: 'classifier.fc2' };
}

export const CNN_PRESETS: Readonly<Record<CnnPreset, () => CnnConfig>> = {
  'fmnist-resnet20': resnet20,
  'lenet-300-100': lenet300100,
  'fmnist-vgg8': vgg8,
};

/** Resolves a preset name, or checks a config: names unique, inputs defined before use, output exists. */
export function resolveCnnConfig(presetOrConfig: CnnPreset | CnnConfig): CnnConfig {
  if (typeof presetOrConfig === 'string') {
    const make = CNN_PRESETS[presetOrConfig as CnnPreset];
    if (!make) throw new ValueError('cnn.create', `unknown preset '${presetOrConfig}'; presets are ${Object.keys(CNN_PRESETS).join(', ')}`);
    return make();
  }
  const c = presetOrConfig;
  if (c?.kind !== 'cnn') throw new ValueError('cnn.config', `kind must be 'cnn', got '${String(c?.kind)}'`);
  const seen = new Set(['input']);
  for (const l of c.layers) {
    if (seen.has(l.name)) throw new ValueError('cnn.config', `layer name '${l.name}' is used twice`);
    const ins = l.kind === 'add' ? l.inputs : [l.input];
    for (const i of ins) if (!seen.has(i)) throw new ValueError('cnn.config', `layer '${l.name}' reads '${i}', which no earlier layer produces`);
    seen.add(l.name);
  }
  if (!seen.has(c.output)) throw new ValueError('cnn.config', `output '${c.output}' is not a layer`);
  return c;
}
