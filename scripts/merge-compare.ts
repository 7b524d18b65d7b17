/**
 * Merges `hiexp compare` runs made in several output folders (one per seed, run in parallel or on other machines)
 * into one report: results.json, heks.json, probes.json, report.md and the plots, as one `hiexp compare` over all
 * seeds writes.
 *
 *   npx tsx scripts/merge-compare.ts --out runs/merged runs/a runs/b runs/c
 *
 * Each seed's run folders are linked under the merged folder (seed-N/…), so the training curves read their metrics.
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { writeCompareReport, type MethodResult } from '../lib/experiments/compare.js'
import type { WarmStartProbe } from '../lib/experiments/compare_probes.js'
import { writeFileAtomic } from '../lib/util/atomic.js'
import { readJsonFileSync } from '../lib/util/json_file.js'

const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true })
if (!values.out || positionals.length === 0) throw new RangeError('merge-compare: --out <dir> and at least one compare folder are required')
const out = values.out
mkdirSync(out, { recursive: true })
const results: MethodResult[] = []
const heks: unknown[] = []
const probes: WarmStartProbe[] = []
const seen = new Set<number>()
for (const dir of positionals) {
  const file = join(dir, 'results.json')
  if (!existsSync(file)) throw new Error(`merge-compare: ${file} is missing (is ${dir} a compare folder?)`)
  const rs = readJsonFileSync(file) as MethodResult[]
  for (const seed of new Set(rs.map((r) => r.seed))) {
    if (seen.has(seed)) throw new Error(`merge-compare: seed ${seed} appears in two folders`)
    seen.add(seed)
    const link = join(out, `seed-${seed}`)
    if (!existsSync(link)) symlinkSync(resolve(dir, `seed-${seed}`), link)
  }
  results.push(...rs)
  if (existsSync(join(dir, 'heks.json'))) heks.push(...(readJsonFileSync(join(dir, 'heks.json')) as unknown[]))
  if (existsSync(join(dir, 'probes.json'))) probes.push(...(readJsonFileSync(join(dir, 'probes.json')) as WarmStartProbe[]))
}
writeFileAtomic(join(out, 'results.json'), JSON.stringify(results, null, 2))
if (heks.length) writeFileAtomic(join(out, 'heks.json'), JSON.stringify(heks, null, 2))
if (probes.length) writeFileAtomic(join(out, 'probes.json'), JSON.stringify(probes, null, 2))
console.log(await writeCompareReport(results, out, heks as never, 'hop', probes))
