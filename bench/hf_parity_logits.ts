// Helper of bench/hf_parity.py: hiexp's side of the parity check with transformers.
//   npx tsx bench/hf_parity_logits.ts logits <checkpoint-dir> <ids.json> <out.f32>   (ids: number[][] of equal length)
//   npx tsx bench/hf_parity_logits.ts save-random <dir> <config.json-of-hf-form> <seed>
import { readFileSync, writeFileSync } from 'node:fs'
import { Policy, Tokenizer, configFromHf } from '../lib/index.js'

const [mode, dir, a, b] = process.argv.slice(2)
if (mode === 'logits') {
  const policy = await Policy.load(dir)
  const ids = JSON.parse(readFileSync(a, 'utf8')) as number[][]
  const logits = await policy.logits(ids)
  const flat = new Float32Array(logits.reduce((n, l) => n + l.length, 0))
  let at = 0
  for (const l of logits) {
    flat.set(l, at)
    at += l.length
  }
  writeFileSync(b, Buffer.from(flat.buffer))
} else if (mode === 'save-random') {
  const config = configFromHf(JSON.parse(readFileSync(a, 'utf8')))
  const words = Array.from({ length: config.vocabSize - 13 }, (_, i) => `t${i}`)
  const tokenizer = Tokenizer.wordLevel([words.join(' ')])
  const policy = await Policy.create(config, tokenizer, { seed: Number(b) })
  await policy.save(dir)
} else {
  console.error('usage: hf_parity_logits.ts logits <dir> <ids.json> <out.f32> | save-random <dir> <config.json> <seed>')
  process.exit(2)
}
