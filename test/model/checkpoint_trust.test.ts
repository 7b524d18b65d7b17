// Issues 15.2-15.4 and 12.4: a checkpoint folder is data from whoever made it. Damaged or hostile safetensors files,
// shard names that leave the folder, non-finite weights and absurd config sizes are refused with a message naming the
// file and the field, before anything large is allocated. Loads of hostile files run in a child process, so that a
// crash (a stack overflow in the header parser, the OOM killer) fails the test instead of the runner.
import test, { type ExecutionContext } from 'ava'
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { checkConfigFitsMemory, configFromHf } from '../../lib/index.js'
import { describeChild, REPO, runChild } from '../helpers/run_child.js'
import { f32, tempDir, tinyPolicy, writeRawSafetensors } from './fixtures.js'

/** Policy.load(dir) in a child: 'loaded' or the error's class and message. The child must exit 0. */
function loadInChild(t: ExecutionContext, dir: string): string {
  const r = runChild(`
import { Policy } from '${REPO}/lib/index.js'
try { await Policy.load(${JSON.stringify(dir)}); console.log(JSON.stringify('loaded')) }
catch (e) { console.log(JSON.stringify((e as Error).constructor.name + ': ' + (e as Error).message)) }`)
  t.is(r.status, 0, describeChild(r))
  const lines = r.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

async function savedCopy(opts: { maxShardBytes?: number } = {}): Promise<string> {
  const dir = tempDir()
  await (await tinyPolicy(6)).save(dir, opts)
  return dir
}

/** The header of a safetensors file and where its data starts. */
function header(file: string): { json: Record<string, { data_offsets: [number, number] }>; dataStart: number } {
  const bytes = readFileSync(file)
  const len = Number(bytes.readBigUInt64LE(0))
  return { json: JSON.parse(bytes.subarray(8, 8 + len).toString()), dataStart: 8 + len }
}

/** A safetensors file whose header is `headerText` verbatim, followed by `dataBytes` zero bytes. */
function writeHeaderOnly(file: string, headerText: string, dataBytes = 0): void {
  const json = Buffer.from(headerText)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(dataBytes)]))
}

test('a header nested a million deep is refused with a message (no stack overflow); a thousand deep too', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  writeHeaderOnly(file, '{"x":' + '['.repeat(1_000_000) + ']'.repeat(1_000_000) + '}')
  // '{' is level 1 and the 64th '[' (header offset 5 + 63 = 68, counted from 0) is level 65.
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*model\.safetensors': bad header JSON at byte 68: values nested more than 64 levels deep/)
  writeHeaderOnly(file, '{"__metadata__":{"a":' + '['.repeat(1000) + ']'.repeat(1000) + '}}')
  t.regex(loadInChild(t, dir), /^RangeError: .*bad header JSON at byte \d+: values nested more than 64 levels deep/)
})

test("weight_map entries that leave the checkpoint folder ('..', absolute, symlinks out) are refused", async (t) => {
  const dir = await savedCopy({ maxShardBytes: 20_000 })
  const indexFile = join(dir, 'model.safetensors.index.json')
  const index = JSON.parse(readFileSync(indexFile, 'utf8'))
  const first = Object.keys(index.weight_map)[0]
  const shard = index.weight_map[first]
  const withEntry = (value: string) => writeFileSync(indexFile, JSON.stringify({ ...index, weight_map: { ...index.weight_map, [first]: value } }))

  withEntry('../../../../../../etc/passwd')
  t.regex(loadInChild(t, dir), /^RangeError: .*model\.safetensors\.index\.json: shard '\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd' resolves outside the checkpoint folder/)
  withEntry('/etc/passwd')
  t.regex(loadInChild(t, dir), /^RangeError: .*shard '\/etc\/passwd' must be a file name inside the checkpoint folder, not an absolute path/)
  withEntry('sub/../../x.safetensors')
  t.regex(loadInChild(t, dir), /^RangeError: .*shard 'sub\/\.\.\/\.\.\/x\.safetensors' resolves outside the checkpoint folder/)

  // A symlink out of the folder is refused; one inside the folder is followed.
  const outside = tempDir('hiexp-outside-')
  renameSync(join(dir, shard), join(outside, shard))
  symlinkSync(join(outside, shard), join(dir, 'escape.safetensors'))
  withEntry('escape.safetensors')
  t.regex(loadInChild(t, dir), /^RangeError: .*shard 'escape\.safetensors' is a symlink to .*hiexp-outside-.*, outside the checkpoint folder/)
  mkdirSync(join(dir, 'shards'))
  renameSync(join(outside, shard), join(dir, 'shards', shard))
  symlinkSync(join(dir, 'shards', shard), join(dir, 'inside.safetensors'))
  writeFileSync(indexFile, JSON.stringify({ ...index, weight_map: Object.fromEntries(Object.entries(index.weight_map).map(([k, v]) => [k, v === shard ? 'inside.safetensors' : v])) }))
  t.is(loadInChild(t, dir), 'loaded')
})

test("a Hugging Face hub cache snapshot (files are symlinks to ../../blobs) still loads", async (t) => {
  const saved = await savedCopy()
  const repo = tempDir('hiexp-hub-')
  const snapshot = join(repo, 'snapshots', 'abc123')
  mkdirSync(snapshot, { recursive: true })
  mkdirSync(join(repo, 'blobs'))
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
    try {
      renameSync(join(saved, f), join(repo, 'blobs', `blob-${f}`))
    } catch {
      continue
    }
    symlinkSync(`../../blobs/blob-${f}`, join(snapshot, f))
  }
  t.is(loadInChild(t, snapshot), 'loaded')
})

test('NaN or Inf weights are refused at load, naming the file, the tensor and the first bad index', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  const { json, dataStart } = header(file)
  const bytes = readFileSync(file)
  const [begin] = json['model.norm.weight'].data_offsets
  bytes.writeFloatLE(NaN, dataStart + begin + 4 * 3)
  bytes.writeFloatLE(Infinity, dataStart + begin + 4 * 5)
  writeFileSync(file, bytes)
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*model\.safetensors', tensor 'model\.norm\.weight': holds 2 non-finite value\(s\) \(NaN or infinity\), the first at flat index 3 \(nan\)/)
})

test('duplicate tensor names and overlapping data ranges are refused', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  writeHeaderOnly(file, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8)
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*': tensor 'a' appears twice in the header/)
  writeHeaderOnly(file, '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12)
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*': the data of tensors 'a' \[0, 8\) and 'b' \[4, 12\) overlap/)
})

test('bad \\u escapes and offsets beyond 2^64 name the file and the field (no bare "stoul")', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  writeHeaderOnly(file, '{"a\\uZZ12":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4)
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*model\.safetensors': bad header JSON at byte \d+: \\u escape needs four hex digits, got 'ZZ12'/)
  writeHeaderOnly(file, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999999]}}', 4)
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*': tensor 'a': data_offsets\[1\] = 99999999999999999999999 does not fit in 64 bits/)
  writeHeaderOnly(file, '{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}}', 4)
  t.regex(loadInChild(t, dir), /^RangeError: .*tensor 'a': shape\[0\] = 18446744073709551616 does not fit in 64 bits/)
  writeHeaderOnly(file, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[-1,4]}}', 4)
  t.regex(loadInChild(t, dir), /^RangeError: .*tensor 'a': data_offsets\[0\] must be a non-negative integer, got -1/)
})

test('a header length past the end of the file, and truncated files, are refused', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  const bytes = readFileSync(file)
  const claims = Buffer.from(bytes)
  claims.writeBigUInt64LE(BigInt(bytes.length), 0)
  writeFileSync(file, claims)
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*' is truncated or not a safetensors file: its header claims \d+ bytes but only \d+ follow/)
  claims.writeBigUInt64LE(2n ** 64n - 1n, 0)
  writeFileSync(file, claims)
  t.regex(loadInChild(t, dir), /^RangeError: .*its header claims 18446744073709551615 bytes/)
  writeFileSync(file, bytes.subarray(0, bytes.length - 1))
  t.regex(loadInChild(t, dir), /^RangeError: .*past the end of the data .*: the file is truncated/)
})

test('random bit flips in the header are refused or loaded, never a crash', async (t) => {
  const dir = await savedCopy()
  const file = join(dir, 'model.safetensors')
  const r = runChild(`
import { readFileSync, writeFileSync } from 'node:fs'
import { Policy } from '${REPO}/lib/index.js'
const file = ${JSON.stringify(file)}
const original = readFileSync(file)
const headerEnd = 8 + Number(original.readBigUInt64LE(0))
let seed = 12345
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
const outcomes: Record<string, number> = {}
for (let trial = 0; trial < 150; trial++) {
  const bytes = Buffer.from(original)
  const at = Math.floor(rnd() * headerEnd)
  bytes[at] ^= 1 << Math.floor(rnd() * 8)
  writeFileSync(file, bytes)
  try {
    await Policy.load(${JSON.stringify(dir)})
    outcomes.loaded = (outcomes.loaded ?? 0) + 1
  } catch (e) {
    const m = (e as Error).message
    const kind = /safetensors file|lacks|has shape|model\\.safetensors/.test(m) ? 'named' : 'other: ' + m.slice(0, 200)
    outcomes[kind] = (outcomes[kind] ?? 0) + 1
  }
}
console.log(JSON.stringify(outcomes))`)
  t.is(r.status, 0, describeChild(r))
  const outcomes = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>
  t.deepEqual(Object.keys(outcomes).filter((k) => k.startsWith('other')), [], JSON.stringify(outcomes))
  t.true((outcomes.named ?? 0) > 50, JSON.stringify(outcomes))
})

const QWEN_05B = {
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
}
const GIB = 1024 ** 3

test('config sizes whose weights would not fit in memory are refused, naming the sizes and the largest term', (t) => {
  t.notThrows(() => checkConfigFitsMemory(configFromHf(QWEN_05B), 'float32', { memory: 8 * GIB }))
  const wide = configFromHf({ ...QWEN_05B, hidden_size: 65536, num_attention_heads: 16, num_key_value_heads: 2 })
  t.throws(() => checkConfigFitsMemory(wide, 'float32', { memory: 64 * GIB, source: 'config.json' }), {
    instanceOf: RangeError,
    message: /^config\.json: hidden_size 65536, intermediate_size 4864, num_hidden_layers 24, vocab_size 151936 make 2\.\d+e\+11 parameters, \d+\.\d GiB as float32, more than this machine's memory \(64\.0 GiB\); the largest term is num_hidden_layers x hidden_size x heads x head_dim \(attention\)/,
  })
  // bfloat16 halves the bytes: 0.5B parameters fit in 1.5 GiB as bfloat16 but not as float32. The MLP (24 x 896 x 4864
  // x 3 = 314M) outweighs the embedding (151936 x 896 = 136M).
  const small = configFromHf(QWEN_05B)
  t.notThrows(() => checkConfigFitsMemory(small, 'bfloat16', { memory: 1.5 * GIB }))
  t.throws(() => checkConfigFitsMemory(small, 'float32', { memory: 1.5 * GIB }), { message: /as float32, more than this machine's memory \(1\.5 GiB\); the largest term is num_hidden_layers x hidden_size x intermediate_size \(MLP\)/ })
})

test('config.json with hidden_size 1e9 is refused before any allocation (Policy.load and the native policyCreate)', async (t) => {
  const dir = await savedCopy()
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...QWEN_05B, hidden_size: 1e9, num_attention_heads: 1000, num_key_value_heads: 1000 }))
  t.regex(loadInChild(t, dir), /^RangeError: .*config\.json: hidden_size 1000000000, .* more than this machine's memory/)
  // hidden_size 65536 with a full vocabulary, straight to the native entry point (no JS check in front of it).
  const r = runChild(`
import { native } from '${REPO}/lib/native/loader.js'
const config = { vocabSize: 151936, hiddenSize: 65536, intermediateSize: 4864, numLayers: 24, numHeads: 16, numKvHeads: 2,
  headDim: 4096, rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true }
try { await native().policyCreate(config, { device: 'cpu', dtype: 'float32' }); console.log(JSON.stringify('created')) }
catch (e) { console.log(JSON.stringify((e as Error).constructor.name + ': ' + (e as Error).message)) }`)
  t.is(r.status, 0, describeChild(r))
  t.regex(JSON.parse(r.stdout.trim().split('\n').pop()!), /^RangeError: config: the weights alone need \d+(\.\d+)? GiB as float32 \(hidden_size 65536, .*\), more than this machine's memory/)
})

test('the existing damaged-file probes stay clear errors in a child process too (header JSON cut short)', async (t) => {
  const dir = await savedCopy()
  writeRawSafetensors(join(dir, 'model.safetensors'), [{ name: 'x', dtype: 'F32', shape: [1], data: f32([1]) }], { headerOverride: '{"x": {"dtype": "F32", "shape": [1' })
  t.regex(loadInChild(t, dir), /^RangeError: safetensors file '.*': bad header JSON at byte \d+: unexpected end/)
})
