import test from 'ava'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import type { TrainConfig } from '../../lib/index.js'
import { tinyRun } from './fixtures/tiny_run.js'

const tiny = tinyRun

const RL_FIELDS = [
  'step', 'rewardMean', 'rewardStd', 'rewardGroupStd', 'advantageStd', 'em', 'f1', 'format', 'loss', 'gradNorm',
  'clipFraction', 'approxKl', 'kl', 'entropy', 'lr', 'searchCalls', 'repeatedQueryShare', 'responseTokens', 'malformed',
  'rolloutSeconds', 'generateSeconds', 'retrieveSeconds', 'trainSeconds', 'stepSeconds',
]

test('a short GRPO run writes every metric each step, validates, checkpoints, and resumes where it stopped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-train-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const trainer = await hx.Trainer.create(tiny(dir))
  await trainer.run({ quiet: true })
  const rows = hx.readMetrics(join(dir, 'metrics.jsonl'))
  const rl = rows.filter((r) => r.phase === 'rl')
  t.deepEqual(rl.map((r) => r.step), [1, 2])
  for (const r of rl) {
    for (const f of RL_FIELDS) t.true(typeof r[f] === 'number' && Number.isFinite(r[f] as number), `${f} in step ${r.step}`)
  }
  t.is(rows.filter((r) => r.phase === 'warm-start').length, 2)
  const validation = rows.filter((r) => r.phase === 'validation')
  t.deepEqual(validation.map((r) => r.step), [0, 1, 2])
  for (const v of validation) t.true((v.em as number) >= 0 && (v.em as number) <= 1)
  t.true(existsSync(join(dir, 'checkpoint', 'hiexp_trainer.json')))
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')), { step: 2, warmStartDone: true })

  // Resume with a longer budget: no second warm start, the step count continues, earlier lines are kept.
  const resumed = await hx.Trainer.create(tiny(dir, { steps: 3 }))
  t.is(resumed.step, 2)
  await resumed.run({ quiet: true })
  const after = hx.readMetrics(join(dir, 'metrics.jsonl'))
  t.deepEqual(after.filter((r) => r.phase === 'rl').map((r) => r.step), [1, 2, 3])
  t.is(after.filter((r) => r.phase === 'warm-start').length, 2)
})

test('GSPO with HiExp guidance runs: guided rollouts see experiences, the update is aligned and regularised', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-train-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const trainer = await hx.Trainer.create(
    tiny(dir, { algorithm: 'gspo', steps: 1, experience: { enabled: true, guidedFraction: 0.34, regularizerCoef: 0.05 }, warmStart: { steps: 0 } }),
  )
  const seen: string[] = []
  trainer.experience = { render: (q) => (seen.push(q.id), 'search each entity of the question before answering') }
  const row = await trainer.rlStep()
  t.is(seen.length, 2) // one guided rollout (round(0.34 * 3)) per question
  t.is(typeof row.guidedRewardMean, 'number')
  t.is(typeof row.unguidedRewardMean, 'number')
  t.true(Number.isFinite(row.kl as number))
})

test('bad configuration is named', async (t) => {
  await t.throwsAsync(hx.Trainer.create({ groupSize: 0 } as TrainConfig), { instanceOf: RangeError, message: /train config: groupSize: Number must be greater than or equal to 1/ })
  await t.throwsAsync(hx.Trainer.create({ algorithm: 'ppo' } as unknown as TrainConfig), { instanceOf: RangeError, message: /train config: algorithm/ })
  await t.throwsAsync(hx.Trainer.create({ task: { kind: 'searchr1' } }), { instanceOf: RangeError, message: /task.trainFile is required/ })
  t.throws(() => hx.parseTrainConfig({ stepz: 3 }), { instanceOf: RangeError, message: /Unrecognized key\(s\) in object: 'stepz'/ })
})

test('HiExp from a HEK file: guided rollouts carry retrieved experiences in their prompt, recorded as guided', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-train-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const advice = ['Search the first entity named in the question before anything else', 'Do not answer before any search', 'Search each hop of the chain in order']
  const experiences = advice.map((text, i) => ({
    id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 5, successRate: 0.8, sources: [],
  }))
  const hek = await hx.HierarchicalExperience.build(experiences)
  hek.save(join(dir, 'given-hek.json'))
  const trainer = await hx.Trainer.create(
    tiny(dir, { steps: 1, warmStart: { steps: 0 }, experience: { enabled: true, guidedFraction: 0.34, hekFile: join(dir, 'given-hek.json'), tokenBudget: 64 } }),
  )
  t.truthy(await trainer.prepareExperience())
  await trainer.rlStep()
  const records = trainer.trajectories.read()
  t.is(records.length, 6)
  const guided = records.filter((r) => r.guided)
  t.is(guided.length, 2)
  for (const r of guided) t.true(advice.some((a) => r.prompt.includes(a)), r.prompt)
  for (const r of records.filter((x) => !x.guided)) t.false(advice.some((a) => r.prompt.includes(a)))
})

test('building a HEK from trajectories that never contrast is a clear error', async (t) => {
  const failing = Array.from({ length: 4 }, (_, i) => ({
    id: `t${i}`, questionId: 'q1', question: 'Where was Ada born?', taskType: 'multihop', prompt: 'p', guided: false,
    turns: [], queries: [], answer: null, finish: 'malformed' as const, reward: { total: 0 }, searchCalls: 0,
    responseTokens: 3, totalTokens: 10, step: 0, time: new Date(0).toISOString(),
  }))
  await t.throwsAsync(hx.buildHek(failing as never, new hx.ContrastiveAnalyzer()), { message: /found no experience in 4 trajectories/ })
})
