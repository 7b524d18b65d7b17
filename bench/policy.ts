// Policy throughput: generation tokens/s (KV cache, sampling, step-wise stop checks) and training tokens/s (RL step:
// forward + backward + fused policy loss + AdamW) for the embedded default's size, batch 8..64.
//   npx tsx bench/policy.ts [--quick] [--device cuda] [--dtype bfloat16] [--large | --load <dir>] [--batches 8,16]
//                           [--prompt-tokens 32] [--new-tokens 32] [--reps 2] [--out name.json]
// --large uses a Qwen2.5-0.5B-sized random-init config (for a GPU machine); --load times a checkpoint folder instead
// (scripts/gpu-check.sh loads the random model transformers timed, so both time the same weights).
// Writes bench/results/policy.json (or --out; an absolute path is used as it is).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Policy, Tokenizer, info, tinyConfig, type PolicyDtype, type Qwen2Config, type TrainStats } from '../lib/index.js'

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const value = (name: string, fallback: string) => {
  const i = args.indexOf(name)
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback
}
const quick = flag('--quick')
const device = value('--device', 'cpu')
const dtype = value('--dtype', device === 'cpu' ? 'float32' : 'bfloat16') as PolicyDtype
const large = flag('--large')
const load = value('--load', '')
const count = (name: string, fallback: string) => {
  const n = Number(value(name, fallback))
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got '${value(name, fallback)}'`)
  return n
}
const batches = (value('--batches', quick ? '8,32' : '8,16,32,64')).split(',').map(Number)
if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new RangeError(`--batches must be positive integers, got '${value('--batches', '')}'`)
const promptLen = count('--prompt-tokens', '32')
const newTokens = count('--new-tokens', quick ? '16' : '32')
const reps = count('--reps', quick ? '1' : '2')

// A word-level tokenizer of 4096 entries (the embedded default's order of size).
const made = load ? undefined : Tokenizer.wordLevel([Array.from({ length: 4096 - 13 }, (_, i) => `w${i}`).join(' ')])
const config: Qwen2Config | undefined = !made
  ? undefined
  : large
    ? { vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64,
        rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true, initializerRange: 0.02, maxPositionEmbeddings: 32768 }
    : tinyConfig(made.vocabSize)
const policy = made && config ? await Policy.create(config, made, { seed: 1, device, dtype }) : await Policy.load(load, { device, dtype })
const tokenizer = policy.tokenizer
policy.configureTraining({ lr: 1e-5 })

let seed = 7
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
const prompts = (B: number) => Array.from({ length: B }, () => Array.from({ length: promptLen }, () => 13 + Math.floor(rand() * (tokenizer.vocabSize - 13))))

async function timeIt(fn: () => Promise<number>): Promise<{ seconds: number; tokens: number }> {
  await fn() // warm-up
  let tokens = 0
  const start = performance.now()
  for (let r = 0; r < reps; r++) tokens += await fn()
  return { seconds: (performance.now() - start) / 1000, tokens }
}

const rows: Record<string, number | string>[] = []
for (const B of batches) {
  const ps = prompts(B)
  const gen = await timeIt(async () => {
    const out = await policy.generate(ps, { maxNewTokens: newTokens, temperature: 1, seed: 3 })
    return out.reduce((a, g) => a + g.tokens.length, 0)
  })
  const sequences = ps.map((p) => [...p, ...Array.from({ length: newTokens }, () => 13 + Math.floor(rand() * Math.min(1000, tokenizer.vocabSize - 13)))])
  const masks = sequences.map((s) => s.map((_, t) => (t >= promptLen ? 1 : 0)))
  const advantages = sequences.map((_, i) => (i % 2 ? 1 : -1))
  let last: TrainStats | undefined
  const train = await timeIt(async () => {
    last = await policy.trainStep({ sequences, masks, advantages })
    return B * (promptLen + newTokens)
  })
  rows.push({
    batch: B,
    'gen tok/s': Math.round(gen.tokens / gen.seconds),
    'gen s/call': +(gen.seconds / reps).toFixed(3),
    'gen tokens/call': gen.tokens / reps,
    'train tok/s': Math.round(train.tokens / train.seconds),
    'train s/step': +(train.seconds / reps).toFixed(3),
    // The last step's numbers: a bf16 step that overflows shows here as a non-finite norm (and a skipped update).
    'train loss': last?.loss ?? NaN,
    'train grad norm': last?.gradNorm ?? NaN,
    'train skipped': last?.skipped ? 'yes' : 'no',
  })
}

// Which BLAS libtorch's matrix products went through (Debian's libtorch takes the system libblas.so.3: the reference
// BLAS unless OpenBLAS is installed, which is ~10x slower).
function blasLibrary(): string {
  if (!existsSync('/proc/self/maps')) return 'unknown'
  const libs = new Set(readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5] ?? '').filter((p) => /blas|mkl/i.test(p)))
  return [...libs].join(', ') || 'none found (statically linked, e.g. MKL in PyTorch wheels)'
}

const rt = info()
const header = {
  model: load ? `loaded from ${load}` : large ? 'Qwen2.5-0.5B-sized (random init)' : 'tiny default (hidden 256, 4 layers, 4 heads / 2 kv, vocab 4096)',
  parameters: policy.parameterCount,
  device: device === 'cpu' ? `cpu (${os.cpus()[0]?.model ?? '?'}, ${rt.threads} threads)` : device,
  dtype,
  torch: rt.torchVersion,
  blas: blasLibrary(),
  promptTokens: promptLen,
  newTokens,
  reps,
}
console.log(JSON.stringify(header))
console.table(rows)
const out = value('--out', large ? 'policy-large.json' : 'policy.json')
const file = isAbsolute(out) ? out : join(dirname(fileURLToPath(import.meta.url)), 'results', out)
mkdirSync(dirname(file), { recursive: true })
writeFileSync(file, JSON.stringify({ ...header, date: new Date().toISOString(), rows }, null, 2) + '\n')
