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

test('a HEK given by path ({seed} filled in) is used as is; one that cannot be had skips HiExp and is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-compare-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const hek = await hx.HierarchicalExperience.build(
    ['Search the first entity named in the question', 'Do not answer before any search', 'Search each hop in order'].map((text, i) => ({
      id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 4, successRate: 0.75, sources: [],
    })),
  )
  hek.save(join(dir, 'given-5.json'))
  const results = await hx.compare({
    outDir: join(dir, 'out'),
    seeds: [5, 6],
    methods: ['grpo', 'hiexp-grpo'],
    log: () => {},
    quiet: true,
    base: { ...tinyRun(dir), steps: 1, checkpointEvery: 20, experience: { hekFile: join(dir, 'given-{seed}.json') } },
  })
  t.deepEqual(
    results.map((r) => `${r.seed}:${r.method}`),
    ['5:no-search', '5:warm-start', '5:grpo', '5:hiexp-grpo', '6:no-search', '6:warm-start', '6:grpo'],
  )
  t.false(existsSync(join(dir, 'out', 'seed-5', 'hek.json')), 'nothing was built for the seed with a given HEK')
  const heks = JSON.parse(readFileSync(join(dir, 'out', 'heks.json'), 'utf8'))
  t.like(heks[0], { seed: 5, source: 'file', experiences: 3, file: join(dir, 'given-5.json') })
  t.like(heks[1], { seed: 6, source: 'file' })
  t.regex(heks[1].error, /given-6.json does not exist/)
  // Only HiExp asked for, and no HEK: the baselines are still saved.
  const alone = await hx.compare({
    outDir: join(dir, 'alone'), seeds: [6], methods: ['hiexp-grpo'], log: () => {}, quiet: true,
    base: { ...tinyRun(dir), steps: 1, experience: { hekFile: join(dir, 'given-{seed}.json') } },
  })
  const saved = JSON.parse(readFileSync(join(dir, 'alone', 'results.json'), 'utf8')) as hx.MethodResult[]
  t.deepEqual(saved.map((r) => r.method), ['no-search', 'warm-start'])
  t.is(alone.length, 2)
  const report = readFileSync(join(dir, 'out', 'report.md'), 'utf8')
  t.regex(report, /## HEK used by the HiExp methods/)
  t.regex(report, /\| 6 \| file \| offline \| – \| \*\*no HEK\*\*: experience.hekFile .*given-6.json does not exist \|/)
})
