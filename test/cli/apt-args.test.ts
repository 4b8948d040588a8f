/** `apt-prune apt --strategy`: each spelling and the usage errors that name the bad value. */
import { describe, expect, it } from 'vitest';
import { recipeByName } from '../../src/cli/apt-run.js';
import { parseAptArgs, parseStrategy } from '../../src/cli/commands/apt.js';
import { UsageError } from '../../src/cli/errors.js';
import { aptFinetuneRecipe } from '../../src/train/apt-recipe.js';

describe('apt --strategy', () => {
  it('reads threshold with and without τ, and the keep-rate strategies', () => {
    expect(parseStrategy('threshold')).toBe('threshold');
    expect(parseStrategy('threshold:0.65')).toEqual({ kind: 'threshold', tau: 0.65 });
    expect(parseStrategy('threshold:0')).toEqual({ kind: 'threshold', tau: 0 });
    expect(parseStrategy('budget:0.7')).toEqual({ kind: 'budget', keepRate: 0.7 });
    expect(parseStrategy('evit:1')).toEqual({ kind: 'evit', keepRate: 1 });
    expect(parseStrategy('random:0.25')).toEqual({ kind: 'random', keepRate: 0.25 });
  });

  it.each(['threshold:1', 'threshold:1.5', 'threshold:x', 'budget:0', 'budget:1.2', 'evit', 'topk:0.5'])('refuses %s naming it', (bad) => {
    expect(() => parseStrategy(bad)).toThrow(UsageError);
    expect(() => parseStrategy(bad)).toThrow(`got '${bad}'`);
  });
});

describe('apt --threads', () => {
  const base = { checkpoint: 'assets/fmnist-vit-t', strategy: 'threshold', recipe: 'fmnist-finetune', updates: '300', seed: '0', images: '8' };
  it('is optional (every core) and read as a positive integer', () => {
    expect(parseAptArgs({ ...base, out: 'runs/a' }, ['train']).threads).toBeUndefined();
    expect(parseAptArgs({ ...base, out: 'runs/a', threads: '1' }, ['train']).threads).toBe(1);
  });

  it.each(['0', '-2', '1.5', 'two'])('refuses --threads %s naming it', (bad) => {
    expect(() => parseAptArgs({ ...base, out: 'runs/a', threads: bad }, ['train'])).toThrow(UsageError);
    expect(() => parseAptArgs({ ...base, out: 'runs/a', threads: bad }, ['train'])).toThrow(bad);
  });
});

describe('apt --fuse', () => {
  const base = { checkpoint: 'assets/fmnist-vit-t', strategy: 'budget:0.7', recipe: 'fmnist-finetune', updates: '300', seed: '0', images: '8', out: 'runs/a' };
  it('is unset unless given (the checkpoint decides), true when given', () => {
    expect(parseAptArgs(base, ['train']).fuse).toBeUndefined();
    expect(parseAptArgs({ ...base, fuse: true }, ['train']).fuse).toBe(true);
  });
});

describe('apt --reward-context', () => {
  const base = { checkpoint: 'assets/fmnist-vit-t', strategy: 'budget:0.7', recipe: 'fmnist-finetune', updates: '300', seed: '0', images: '8', out: 'runs/a' };
  it('is unset unless given (the source’s plain context), plain or pruned when given', () => {
    expect(parseAptArgs(base, ['train']).rewardContext).toBeUndefined();
    expect(parseAptArgs({ ...base, rewardContext: 'pruned' }, ['train']).rewardContext).toBe('pruned');
    expect(parseAptArgs({ ...base, rewardContext: 'plain' }, ['train']).rewardContext).toBe('plain');
  });

  it('refuses another value naming it', () => {
    expect(() => parseAptArgs({ ...base, rewardContext: 'tail' }, ['train'])).toThrow(UsageError);
    expect(() => parseAptArgs({ ...base, rewardContext: 'tail' }, ['train'])).toThrow("got 'tail'");
  });
});

for (const [flag, key, field] of [
  ['--task-grad', 'taskGrad', 'taskGrad'],
  ['--attn-prior', 'attnPrior', 'attentionPrior'],
] as const) {
  describe(`apt ${flag}`, () => {
    const base = {
      checkpoint: 'assets/fmnist-vit-t',
      strategy: 'budget:0.7',
      recipe: 'fmnist-finetune',
      updates: '300',
      seed: '0',
      images: '8',
      out: 'runs/a',
    };
    it('is unset unless given (the source has no such term), the weight when given', () => {
      expect(parseAptArgs(base, ['train'])[field]).toBeUndefined();
      expect(parseAptArgs({ ...base, [key]: '0.5' }, ['train'])[field]).toBe(0.5);
    });

    it('refuses zero, negative and non-numeric weights, naming the value', () => {
      for (const bad of ['0', '-1', 'abc'])
        expect(() => parseAptArgs({ ...base, [key]: bad }, ['train'])).toThrow(`${flag} must be a positive number, got '${bad}'`);
    });
  });
}

describe('apt --keep-warmup', () => {
  const base = { checkpoint: 'assets/fmnist-vit-t', strategy: 'budget:0.7', recipe: 'fmnist-finetune', updates: '300', seed: '0', images: '8', out: 'runs/a' };
  it('is unset unless given (the source prunes at its counts from the first update), the updates when given', () => {
    expect(parseAptArgs(base, ['train']).keepWarmup).toBeUndefined();
    expect(parseAptArgs({ ...base, keepWarmup: '90' }, ['train']).keepWarmup).toBe(90);
  });

  it('refuses zero and fractions, naming the value', () => {
    for (const bad of ['0', '1.5']) expect(() => parseAptArgs({ ...base, keepWarmup: bad }, ['train'])).toThrow(`'${bad}'`);
  });
});

describe('apt --lr', () => {
  const base = { checkpoint: 'assets/fmnist-vit-t', recipe: 'fmnist-finetune', updates: '300', seed: '0', images: '8', out: 'runs/a' };
  it("is unset unless given (the recipe's own rate), the rate when given, and reaches the recipe", () => {
    expect(parseAptArgs(base, ['train']).lr).toBeUndefined();
    const a = parseAptArgs({ ...base, lr: '4e-2' }, ['train']);
    expect(a.lr).toBe(0.04);
    expect(recipeByName(a.recipe, a.updates, a.seed, a.lr).lr).toBe(0.04);
    expect(recipeByName(a.recipe, a.updates, a.seed, undefined).lr).toBe(aptFinetuneRecipe(300, 0).lr);
  });

  it('refuses zero, negative and non-numeric rates, naming the value', () => {
    for (const bad of ['0', '-1e-2', 'fast'])
      expect(() => parseAptArgs({ ...base, lr: bad }, ['train'])).toThrow(`--lr must be a positive number, got '${bad}'`);
  });
});

describe('apt --strategy default', () => {
  it('is unset unless given, so eval, export, viz and further training keep the checkpoint’s strategy', () => {
    const { strategy: _, ...base } = { checkpoint: 'c', strategy: 'x', recipe: 'fmnist-finetune', updates: '300', seed: '0', images: '8', out: 'o' };
    expect(parseAptArgs(base, ['eval']).strategy).toBeUndefined();
    expect(parseAptArgs({ ...base, strategy: 'budget:0.5' }, ['eval']).strategy).toEqual({ kind: 'budget', keepRate: 0.5 });
  });
});
