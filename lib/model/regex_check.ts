/**
 * The regular expressions of a tokenizer.json (pre-tokenizer `Split`, normalizer `Replace`, …) run on every text the
 * policy encodes, in JavaScript's backtracking engine: a pattern such as `(a+)+$` takes exponential time on `aaaa…a!`
 * and would hang encoding. No linear-time engine is a dependency, so each pattern is tried at load on adversarial
 * strings (long runs of one character, then a character that breaks the match) in a worker thread with a time box;
 * one that does not finish is refused, naming its field. A worker can be stopped in the middle of a match, the
 * loading thread cannot.
 */
import { Worker } from 'node:worker_threads'

export interface PatternField {
  /** Where it is in tokenizer.json, e.g. pre_tokenizer.pretokenizers[1].pattern.Regex. */
  path: string
  pattern: string
}

/** Every `{ Regex: string }` pattern in a tokenizer.json's normalizer, pre-tokenizer, post-processor and decoder. */
export function regexFields(json: Record<string, unknown>): PatternField[] {
  const out: PatternField[] = []
  const walk = (v: unknown, path: string, depth: number) => {
    if (depth > 32 || typeof v !== 'object' || v === null) return
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`, depth + 1))
    for (const [k, x] of Object.entries(v)) {
      if (k === 'Regex' && typeof x === 'string') out.push({ path: `${path}.Regex`, pattern: x })
      else walk(x, `${path}.${k}`, depth + 1)
    }
  }
  for (const part of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) walk(json[part], part, 0)
  return out
}

// Runs in the worker: every pattern on every probe, saying which pattern it starts before each.
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads')
const { patterns, lengths } = workerData
const base = ['a', 'A', '0', ' ', '\\n', '\\t', '\\u00e9', '\\u4e2d', '!', "'", '_', '-', '.', ',']
const ends = ['', '!', ' ', '\\n', 'a', '0', '\\u0000', '\\u00e9']
for (let p = 0; p < patterns.length; p++) {
  parentPort.postMessage({ start: p })
  let re
  try { re = new RegExp(patterns[p], 'gu') } catch { try { re = new RegExp(patterns[p], 'g') } catch { continue } }
  // The pattern's own letters and digits too: a run of what it matches is where it backtracks.
  const own = [...new Set(patterns[p].replace(/\\\\./g, '').match(/[A-Za-z0-9]/g) || [])].slice(0, 16)
  for (const c of [...base, ...own]) for (const n of lengths) for (const e of ends) {
    const s = c.repeat(n) + e
    re.lastIndex = 0
    let m, guard = 0
    while ((m = re.exec(s)) !== null && guard++ <= s.length) if (m[0] === '') re.lastIndex++
  }
}
parentPort.postMessage({ done: true })
`

/**
 * Refuses (RangeError naming `source` and the field) a pattern that does not get through the probes within `timeoutMs`
 * (for all patterns together). Resolves when every pattern passed, or there is none.
 */
export async function checkRegexFields(json: Record<string, unknown>, source: string, timeoutMs = 3000): Promise<void> {
  const fields = regexFields(json)
  if (fields.length === 0) return
  const worker = new Worker(PROBE, {
    eval: true,
    workerData: { patterns: fields.map((f) => f.pattern), lengths: [24, 2048] },
    resourceLimits: { maxOldGenerationSizeMb: 256 },
  })
  let current = -1
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const f = fields[Math.max(0, current)]
        reject(
          new RangeError(
            `${source}: ${f.path} ${JSON.stringify(f.pattern)} did not finish matching test strings of repeated characters within ${timeoutMs} ms ` +
              '(catastrophic backtracking, e.g. a nested quantifier like (a+)+): encoding text with it could hang. Rewrite the pattern without nested repetition',
          ),
        )
      }, timeoutMs)
      worker.on('message', (m: { start?: number; done?: boolean }) => {
        if (m.start !== undefined) current = m.start
        if (m.done) {
          clearTimeout(timer)
          resolve()
        }
      })
      worker.on('error', (e) => {
        clearTimeout(timer)
        reject(new RangeError(`${source}: checking ${fields[Math.max(0, current)]?.path ?? 'its patterns'} failed: ${e.message}`))
      })
      worker.on('exit', (code) => {
        clearTimeout(timer)
        if (code !== 0) reject(new RangeError(`${source}: checking ${fields[Math.max(0, current)]?.path ?? 'its patterns'} stopped (exit ${code})`))
        else resolve()
      })
    })
  } finally {
    await worker.terminate()
  }
}
