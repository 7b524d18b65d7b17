#!/usr/bin/env node
// README's runnable examples: every ```ts block after a `<!-- example -->` line (or `<!-- example (rerun) -->`: run
// twice in one folder, and the two runs must print the same). test/readme.test.ts runs them; scripts/pack-check.sh
// writes them out here (`node scripts/readme-examples.mjs README.md <dir>`) and type-checks them at `tsc --init`'s
// settings against the packed package.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MARKERS = new Map([
  ['<!-- example -->', false],
  ['<!-- example (rerun) -->', true],
])

/** The marked examples: the README line each starts on, its code, and whether it must be rerunnable. */
export function readmeExamples(text) {
  const lines = text.split('\n')
  const out = []
  for (let i = 0; i < lines.length; i++) {
    const rerun = MARKERS.get(lines[i].trim())
    if (rerun === undefined) continue
    if (lines[i + 1]?.trim() !== '```ts') throw new Error(`README.md:${i + 1}: ${lines[i].trim()} must be followed by a \`\`\`ts block`)
    const end = lines.indexOf('```', i + 2)
    out.push({ line: i + 3, code: lines.slice(i + 2, end).join('\n'), rerun })
  }
  return out
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [readme, dir] = process.argv.slice(2)
  if (!readme || !dir) throw new Error('usage: node scripts/readme-examples.mjs README.md <dir>')
  const examples = readmeExamples(readFileSync(readme, 'utf8'))
  for (const { line, code } of examples) writeFileSync(join(dir, `readme-line-${line}.ts`), `export {}\n${code}\n`)
  console.log(`${examples.length} README examples -> ${dir}`)
}
