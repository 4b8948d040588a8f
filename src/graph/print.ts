import type { Graph } from './builder.js';
import { valueName } from './builder.js';
import type { Value } from './types.js';

const SHORT: Record<string, string> = { float32: 'f32', float64: 'f64', int32: 'i32', int64: 'i64', uint8: 'u8', bool: 'bool' };

function typeStr(v: Value): string {
  return `${SHORT[v.dtype]}[${v.shape.join(',')}]`;
}

function attrStr(attrs: object): string {
  const parts = Object.entries(attrs).map(([k, a]) => `${k}=${Array.isArray(a) ? `[${a.join(',')}]` : String(a)}`);
  return parts.length > 0 ? `{${parts.join(', ')}}` : '';
}

function ref(v: Value): string {
  if (v.source.kind === 'constant' && v.source.tensor.dims.length === 0) return String(Number(v.source.tensor.data[0]));
  return valueName(v).startsWith('%') ? valueName(v) : `%${valueName(v)}`;
}

/**
 * One line per node: `%12:f32[B,50,288] = MatMul %10 %blocks.0.attn.qkv.weight`, after the inputs
 * and parameters and before the outputs. Scalar constants print as their value.
 */
export function printGraph(g: Graph): string {
  const lines = [`graph ${g.name}`];
  const shown = new Set<Value>();
  const showConstant = (v: Value) => {
    if (v.source.kind === 'constant' && v.source.tensor.dims.length > 0 && !shown.has(v)) {
      shown.add(v);
      lines.push(`  %${v.id}:${typeStr(v)} = Constant`);
    }
  };
  for (const v of g.inputs) lines.push(`  ${v.source.kind === 'param' ? 'param' : 'input'} %${valueName(v)}:${typeStr(v)}`);
  for (const n of g.nodes) {
    n.inputs.forEach(showConstant);
    const outs = n.outputs.map((o) => `%${o.id}:${typeStr(o)}`).join(', ');
    lines.push(`  ${outs} = ${n.op}${attrStr(n.attrs)} ${n.inputs.map(ref).join(' ')}`.trimEnd());
  }
  for (const o of g.outputs) showConstant(o.value);
  for (const o of g.outputs) lines.push(`  output ${o.name} = ${ref(o.value)}`);
  return lines.join('\n');
}
