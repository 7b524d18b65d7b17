import test from 'ava'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import { tinyRun } from '../train/fixtures/tiny_run.js'

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
  // Defect 8 of issue 21: the warm start is evaluated with the HEK (prompting only), and so is GRPO's policy.
  t.deepEqual(results.map((r) => r.method), ['no-search', 'warm-start', 'warm-start-hek', 'grpo', 'hiexp-gspo'])
  t.is(results[2].test.n, results[1].test.n)
  t.truthy(results[3].testWithExperience)
  t.truthy(results[4].testWithExperience)
  // the no-search baseline never gets a passage: its rollouts search but read nothing
  t.is(results[0].test.n, results[1].test.n)
  for (const r of results.slice(3)) {
    t.true(r.test.n > 0)
    t.true(Number.isFinite(r.rewardGroupStd) && Number.isFinite(r.advantageStd))
  }
  // both methods started from the same warm-start checkpoint: their first validation rows come after it
  const report = readFileSync(join(dir, 'report.md'), 'utf8')
  t.regex(report, /\| grpo \| [0-9.]+ \| [0-9.]+ \|/)
  t.regex(report, /## Stability/)
  t.regex(report, /\| no-search \| [0-9.]+ \|/)
  for (const f of ['results.json', 'training.png', 'training.svg', 'em-by-hops.png']) t.true(existsSync(join(dir, f)), f)

  // An ablation added later into the same folder: the warm start and the HEK are reused, earlier results kept.
  const more = await hx.compare({ outDir: dir, seeds: [5], methods: ['hiexp-grpo-internalize'], log: () => {}, quiet: true, base: { ...tinyRun(dir), checkpointEvery: 20 } })
  t.deepEqual(more.map((r) => r.method).sort(), ['grpo', 'hiexp-grpo-internalize', 'hiexp-gspo', 'no-search', 'warm-start', 'warm-start-hek'])
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).map((r: { method: string }) => r.method).sort(), more.map((r) => r.method).sort())
  const config = JSON.parse(readFileSync(join(dir, 'seed-5', 'hiexp-grpo-internalize', 'config.json'), 'utf8'))
  t.like(config, { algorithm: 'grpo', experience: { enabled: true, variant: 'internalize' } })
  // The per-seed table pairs each HiExp method with its plain algorithm from the same warm start (gspo was not run).
  const report2 = readFileSync(join(dir, 'report.md'), 'utf8')
  t.regex(report2, /## Per seed: HiExp \(with its HEK\) minus its plain algorithm/)
  t.regex(report2, /\| hiexp-grpo-internalize − grpo \| [0-9.]+ − [0-9.]+ = [+-][0-9.]+ \|/)
  t.notRegex(report2, /hiexp-gspo − gspo/)
})

test('a HEK given by path ({seed} filled in) is used as is; a missing one is refused before any training', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-compare-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const hek = await hx.HierarchicalExperience.build(
    ['Search the first entity named in the question', 'Do not answer before any search', 'Search each hop in order'].map((text, i) => ({
      id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 4, successRate: 0.75, sources: [],
    })),
  )
  hek.save(join(dir, 'given-5.json'))
  const base = { ...tinyRun(dir), steps: 1, checkpointEvery: 20, experience: { hekFile: join(dir, 'given-{seed}.json') } }
  await t.throwsAsync(hx.compare({ outDir: join(dir, 'typo'), seeds: [5, 6], methods: ['hiexp-grpo'], log: () => {}, quiet: true, base }), {
    instanceOf: RangeError,
    message: `compare: experience.hekFile: no HEK file at ${join(dir, 'given-6.json')}`,
  })
  t.false(existsSync(join(dir, 'typo', 'seed-5')), 'nothing was trained')
  const results = await hx.compare({ outDir: join(dir, 'out'), seeds: [5], methods: ['grpo', 'hiexp-grpo'], log: () => {}, quiet: true, base })
  t.deepEqual(results.map((r) => r.method), ['no-search', 'warm-start', 'warm-start-hek', 'grpo', 'hiexp-grpo'])
  t.false(existsSync(join(dir, 'out', 'seed-5', 'hek.json')), 'nothing was built')
  t.true(existsSync(join(dir, 'out', 'seed-5', 'hek-shuffled.json')), 'the shuffled control is written in the seed folder, not beside the given file')
  const heks = JSON.parse(readFileSync(join(dir, 'out', 'heks.json'), 'utf8'))
  t.deepEqual(heks, [{ seed: 5, file: join(dir, 'given-5.json'), source: 'file', distiller: 'offline', experiences: 3 }])
  t.regex(readFileSync(join(dir, 'out', 'report.md'), 'utf8'), /## HEK used by the HiExp methods/)
})

test('a HEK that cannot be built skips the HiExp methods of that seed, says why, and keeps the baselines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-compare-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A barely trained policy never succeeds: no question has a success to contrast, so the analyzer finds nothing.
  const results = await hx.compare({
    outDir: dir, seeds: [6], methods: ['hiexp-grpo'], log: () => {}, quiet: true,
    base: { ...tinyRun(dir), steps: 1, experience: { buildQuestions: 4, buildGroupSize: 2 } },
  })
  t.deepEqual(results.map((r) => r.method), ['no-search', 'warm-start'])
  const saved = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as hx.MethodResult[]
  t.deepEqual(saved.map((r) => r.method), ['no-search', 'warm-start'])
  const heks = JSON.parse(readFileSync(join(dir, 'heks.json'), 'utf8'))
  t.like(heks[0], { seed: 6, source: 'built', distiller: 'offline' })
  t.regex(heks[0].error, /the offline distiller found no experience in 8 trajectories/)
  t.regex(readFileSync(join(dir, 'report.md'), 'utf8'), /\| 6 \| built \| offline \| – \| \*\*no HEK\*\*: HiExp: the offline distiller found no experience/)
})

test('a shared warm start needs one world for every seed (task.world.seed), refused before any work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-compare-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await t.throwsAsync(hx.compare({ outDir: join(dir, 'out'), seeds: [1, 2], methods: ['grpo'], log: () => {}, quiet: true, base: tinyRun(dir), sharedWarmStart: join(dir, 'w') }), {
    instanceOf: RangeError,
    message: 'compare: sharedWarmStart needs task.world.seed in the base configuration (one world for every seed)',
  })
  t.false(existsSync(join(dir, 'out')))
})
