// Minimal typings for the parts of ndarray-ops the adapter uses (the package ships none).
declare module 'ndarray-ops' {
  import type { NdArray } from 'ndarray';

  // biome-ignore lint/suspicious/noExplicitAny: ndarray views of every TypedArray pass through
  type A = NdArray<any>;
  const ops: {
    assign(out: A, a: A): A;
    assigns(out: A, s: number): A;
    add(out: A, a: A, b: A): A;
    muls(out: A, a: A, s: number): A;
    mul(out: A, a: A, b: A): A;
    norm1(a: A): number;
    norm2(a: A): number;
    norm2squared(a: A): number;
    sum(a: A): number;
    sup(a: A): number;
    inf(a: A): number;
    argmax(a: A): number[];
  };
  export default ops;
}
