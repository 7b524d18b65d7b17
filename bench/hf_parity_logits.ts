// Helper of bench/hf_parity.py: hiexp's side of the parity check with transformers.
//   npx tsx bench/hf_parity_logits.ts logits <checkpoint-dir> <ids.json> <out-dir> [--device cpu|cuda] [--dtypes float32,bfloat16]
//     ids: number[][] of equal length; writes <out-dir>/<dtype>.f32 (float32 logits [B, T, V], row-major) per dtype
//   npx tsx bench/hf_parity_logits.ts save-random <dir> <config.json-of-hf-form> <seed>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Policy, Tokenizer, configFromHf, type PolicyDtype } from '../lib/index.js'

const DTYPES: PolicyDtype[] = ['float32', 'bfloat16', 'float16']
const usage =
  'usage: hf_parity_logits.ts logits <dir> <ids.json> <out-dir> [--device cpu|cuda] [--dtypes float32,bfloat16]\n' +
  '       hf_parity_logits.ts save-random <dir> <config.json> <seed>'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { device: { type: 'string', default: 'cpu' }, dtypes: { type: 'string', default: 'float32' } },
})
const [mode, dir, a, b] = positionals

if (mode === 'logits' && dir && a && b) {
  const dtypes = values.dtypes.split(',')
  const bad = dtypes.find((d) => !DTYPES.includes(d as PolicyDtype))
  if (bad !== undefined) {
    console.error(`--dtypes: '${bad}' is not one of ${DTYPES.join(', ')}`)
    process.exit(2)
  }
  const ids = JSON.parse(readFileSync(a, 'utf8')) as number[][]
  mkdirSync(b, { recursive: true })
  for (const dtype of dtypes as PolicyDtype[]) {
    const policy = await Policy.load(dir, { device: values.device, dtype })
    const logits = await policy.logits(ids)
    const flat = new Float32Array(logits.reduce((n, l) => n + l.length, 0))
    let at = 0
    for (const l of logits) {
      flat.set(l, at)
      at += l.length
    }
    writeFileSync(join(b, `${dtype}.f32`), Buffer.from(flat.buffer))
  }
} else if (mode === 'save-random' && dir && a && b) {
  const config = configFromHf(JSON.parse(readFileSync(a, 'utf8')))
  const words = Array.from({ length: config.vocabSize - 13 }, (_, i) => `t${i}`)
  const tokenizer = Tokenizer.wordLevel([words.join(' ')])
  const policy = await Policy.create(config, tokenizer, { seed: Number(b) })
  await policy.save(dir)
} else {
  console.error(usage)
  process.exit(2)
}
