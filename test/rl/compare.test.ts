import test from 'ava'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import { tinyRun } from './fixtures/tiny_run.js'

test('compare runs each method from one shared warm start and writes the report, results and plots', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-compare-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A given HEK (a barely trained policy has no successes to contrast).
  mkdirSync(join(dir, 'seed-5'), { recursive: true })
  const hek = await hx.HierarchicalExperience.build(
    ['Search the first entity named in the question', 'Do not answer before any search'].map((text, i) => ({
      id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 4, successRate: 0.75, sources: [],
    })),
  )
  hek.save(join(dir, 'seed-5', 'hek.json'))
  const results = await hx.compare({
    outDir: dir,
    seeds: [5],
    methods: ['grpo', 'hiexp-gspo'],
    log: () => {},
    quiet: true,
    base: {
      ...tinyRun(dir),
      checkpointEvery: 20,
    },
  })
  t.deepEqual(results.map((r) => r.method), ['no-search', 'warm-start', 'grpo', 'hiexp-gspo'])
  t.is(results[2].testWithExperience, undefined)
  t.truthy(results[3].testWithExperience)
  // the no-search baseline never gets a passage: its rollouts search but read nothing
  t.is(results[0].test.n, results[1].test.n)
  for (const r of results.slice(2)) {
    t.true(r.test.n > 0)
    t.true(Number.isFinite(r.rewardGroupStd) && Number.isFinite(r.advantageStd))
  }
  // both methods started from the same warm-start checkpoint: their first validation rows come after it
  const report = readFileSync(join(dir, 'report.md'), 'utf8')
  t.regex(report, /\| grpo \| [0-9.]+ \| [0-9.]+ \|/)
  t.regex(report, /## Stability/)
  t.regex(report, /\| no-search \| [0-9.]+ \|/)
  for (const f of ['results.json', 'training.png', 'training.svg', 'em-by-hops.png']) t.true(existsSync(join(dir, f)), f)
})
