import { afterEach, describe, expect, it, vi } from 'vitest';
import { Graph } from '../../src/graph/builder.js';
import { compile } from '../../src/graph/runtime.js';
import { tensor } from '../../src/tensor/tensor.js';

describe('execution providers', () => {
  afterEach(() => vi.restoreAllMocks());

  it('asking for CUDA on a CPU-only build falls back to CPU with one clear message, and the session still runs', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const g = new Graph('ep');
    const x = g.input('x', 'float32', ['B', 3]);
    g.output('y', g.Add(x, x));
    const s = await compile(g, { executionProviders: ['cuda', 'cpu'], intraOpThreads: 1 });
    const out = await s.run({ x: tensor(new Float32Array([1, 2, 3]), [1, 3]) });
    expect(Array.from(out.y?.data as Float32Array)).toEqual([2, 4, 6]);
    s.dispose();
    // One message, naming what was asked for; a second request in the same process stays quiet.
    const again = await compile(g, { executionProviders: ['cuda'], intraOpThreads: 2 });
    again.dispose();
    const messages = warn.mock.calls.map((c) => String(c[0]));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/execution providers \[cuda, cpu\] unavailable .*; using CPU/);
  });
});
