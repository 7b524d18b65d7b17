// GRPO, GSPO, HiExp-GRPO and HiExp-GSPO from one warm start per seed, same budget; writes runs/compare/report.md.
// Run with `npx tsx examples/compare.ts` (the CLI twin: hiexp compare --config examples/configs/compare.json).
import { readFileSync } from 'node:fs'
import * as hx from 'hiexp'

const base = JSON.parse(readFileSync(new URL('./configs/compare.json', import.meta.url), 'utf8'))
const results = await hx.compare({ outDir: 'runs/compare', seeds: [0, 1, 2], base })
for (const r of results) console.log(`${r.method} seed ${r.seed}: test EM ${r.test.em.toFixed(3)}`)
