// Tiny policies and hand-made safetensors files for the model tests.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Policy, Tokenizer, tinyConfig, type Qwen2Config } from '../../lib/index.js'

export const CORPUS = [
  'the cat sat on the mat .',
  'a dog ran in the park .',
  'alice was born in paris , the capital of france .',
  'bob wrote three books about rivers and mountains .',
  'one two three four five six seven eight nine ten',
]

export function tinyTokenizer(): Tokenizer {
  return Tokenizer.wordLevel(CORPUS)
}

export function tinyPolicy(seed = 1, overrides: Partial<Qwen2Config> = {}): Promise<Policy> {
  const tok = tinyTokenizer()
  const cfg = tinyConfig(tok.vocabSize, {
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    ...overrides,
  })
  // A larger init than transformers' 0.02 makes the random model's distributions peaked enough to be interesting.
  return Policy.create({ ...cfg, initializerRange: overrides.initializerRange ?? 0.2 }, tok, { seed })
}

export function tempDir(prefix = 'hiexp-model-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Writes a safetensors file from raw parts, so that tests can damage any of them. */
export function writeRawSafetensors(
  path: string,
  entries: { name: string; dtype: string; shape: number[]; data: Uint8Array }[],
  { headerOverride, truncateTo }: { headerOverride?: string; truncateTo?: number } = {},
): void {
  const header: Record<string, unknown> = {}
  let offset = 0
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.data.length] }
    offset += e.data.length
  }
  const json = Buffer.from(headerOverride ?? JSON.stringify(header))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  let bytes = Buffer.concat([len, json, ...entries.map((e) => Buffer.from(e.data))])
  if (truncateTo !== undefined) bytes = bytes.subarray(0, truncateTo)
  writeFileSync(path, bytes)
}

export function f32(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer)
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}
