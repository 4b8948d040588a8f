/** What the fixture scripts record after running `onnx.checker` on a file this library wrote. */
export interface OnnxCheck {
  readonly file: string;
  readonly sha256: string;
  readonly onnx: string;
  readonly ir_version: number;
  readonly opset: number;
  readonly producer: string;
  readonly inputs: Record<string, (string | number)[]>;
  readonly outputs: Record<string, (string | number)[]>;
  readonly checker: { readonly function: string; readonly model: string; readonly result: string };
}
