import test from 'ava'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import type { TrainConfig } from '../../lib/index.js'
import { tinyRun } from './fixtures/tiny_run.js'
import { plantedGroups } from '../experience/helpers.js'
import { CASE_PHRASES } from '../../lib/experience/cases.js'
import { SEARCH_EXPERIENCE_LABEL } from '../../lib/agent/prompt.js'

const tiny = tinyRun

const RL_FIELDS = [
  'step', 'rewardMean', 'rewardStd', 'rewardGroupStd', 'zeroVarianceGroupShare', 'advantageStd', 'em', 'f1', 'cem', 'format', 'loss', 'gradNorm',
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
  const commit = JSON.parse(readFileSync(join(dir, 'checkpoint', 'run.json'), 'utf8'))
  t.like(commit, { step: 2, warmStartDone: true, hek: false, metricsBytes: statSync(join(dir, 'metrics.jsonl')).size })
  t.deepEqual(commit.trajectoryBytes, [statSync(join(dir, 'trajectories.jsonl')).size])

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
  // Advice for any question shares no word with a question: without the similarity floor (-1) it still fills the slot.
  const trainer = await hx.Trainer.create(
    tiny(dir, { steps: 1, warmStart: { steps: 0 }, experience: { enabled: true, guidedFraction: 0.34, hekFile: join(dir, 'given-hek.json'), tokenBudget: 64, promptMinSimilarity: -1 } }),
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
  await t.throwsAsync(hx.buildHek(failing as never, new hx.ContrastiveAnalyzer()), { instanceOf: hx.NoExperienceError, message: /found no experience in 4 trajectories/ })
})

test('the arithmetic task keeps the world corpus and vocabulary, so experiences from multi-hop questions stay readable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-train-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const trainer = await hx.Trainer.create(
    tiny(dir, { task: { kind: 'arithmetic', world: tinyRun(dir).task!.world, arithmetic: { problemsPerStep: 10, steps: [1, 2] } }, steps: 0 }),
  )
  const { train, validation, test: held } = trainer.task
  t.true(train.length > 0 && held.length > 0)
  t.true([...train, ...validation, ...held].every((q) => q.taskType === 'arithmetic' && /^\d+$/.test(q.goldAnswers[0])))
  const unk = trainer.policy.tokenizer.encode('<unk>')[0]
  const known = (text: string) => !trainer.policy.tokenizer.encode(text).includes(unk)
  t.true(known(held[0].question), 'arithmetic words and numbers')
  // What retrieval puts into a prompt from an offline-analyzer HEK: header, section titles, experience sentences.
  // (Behaviour statements only: the planted groups' case experiences name entities of another world. The words around
  // a case, its fixed phrases, are checked below.)
  const hek = await hx.HierarchicalExperience.build(await new hx.ContrastiveAnalyzer({ cases: false }).distill(plantedGroups()))
  const rendered = await hek.retrieve('Where was the founder of Company9 born?', { budget: 10_000, k0: 10 })
  t.true(rendered.text.includes('Tips:') && rendered.tips.some((x) => x.node.text.startsWith('Do not')), rendered.text)
  t.true(known(rendered.text), rendered.text)
  for (const phrase of CASE_PHRASES) t.true(known(phrase), phrase)
  t.true(known(SEARCH_EXPERIENCE_LABEL), "the label of a search-time experience")
  const hits = await trainer.task.retriever.search([held[0].question], 2)
  t.is(hits.length, 1, 'the search tool still answers (from the world corpus)')
})

/** Decoded text of every sequence the trainer's supervised steps train on, in order, as they happen. */
function recordWarmStartTexts(trainer: hx.Trainer): string[] {
  const texts: string[] = []
  const sft = trainer.policy.sftStep.bind(trainer.policy)
  trainer.policy.sftStep = (batch) => {
    for (const s of batch.sequences) texts.push(trainer.policy.tokenizer.decode(Array.from(s)))
    return sft(batch)
  }
  return texts
}

test('a warm start can show experiences in a share of the demonstration prompts (from experience.hekFile)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-train-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const advice = 'Search the first entity named in the question before anything else'
  const hek = await hx.HierarchicalExperience.build(
    [advice, 'Do not answer before any search'].map((text, i) => ({
      id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 5, successRate: 0.8, sources: [],
    })),
  )
  hek.save(join(dir, 'hek.json'))
  const trainer = await hx.Trainer.create(
    tiny(dir, { steps: 0, warmStart: { steps: 3, batchSize: 8, lr: 1e-3, questionShare: 1, experienceShare: 0.5 }, experience: { hekFile: join(dir, 'hek.json'), promptMinSimilarity: -1 } }),
  )
  const seen = recordWarmStartTexts(trainer)
  await trainer.warmStart()
  t.is(seen.length, 24)
  const withAdvice = seen.filter((s) => s.includes('Experience from earlier attempts')).length
  t.true(withAdvice > 0 && withAdvice < seen.length, `${withAdvice} of ${seen.length} demonstrations carry the experience`)
  t.throws(() => hx.parseTrainConfig({ warmStart: { experienceShare: 0.5 } }), {
    instanceOf: RangeError,
    message: /warmStart.experienceShare: warmStart.experienceShare > 0 needs experience.hekFile/,
  })
  // flawedShare 1: every demonstration without experiences stops its chain early, every one with them goes to the end.
  const flawed = await hx.Trainer.create(
    tiny(join(dir, 'flawed'), { steps: 0, warmStart: { steps: 4, batchSize: 8, lr: 1e-3, questionShare: 1, experienceShare: 0.5, flawedShare: 1 }, experience: { hekFile: join(dir, 'hek.json'), promptMinSimilarity: -1 } }),
  )
  const shown = recordWarmStartTexts(flawed)
  await flawed.warmStart()
  let advised = 0
  for (const text of shown) {
    const body = text.slice(text.indexOf('Question :'))
    const squash = (x: string) => x.replace(/\s+/g, '')
    const q = flawed.task.train.find((x) => squash(body).startsWith(squash(`Question: ${x.question}<`)))!
    t.truthy(q, body)
    const searches = body.split('</search>').length - 1
    if (text.includes('Experience from earlier attempts')) {
      advised++
      t.is(searches, q.hops!)
      t.true(body.includes(`<answer> ${q.goldAnswers[0]} </answer>`))
    } else t.true(searches < q.hops!, body)
  }
  t.true(advised > 0 && advised < shown.length)
  const missing = await hx.Trainer.create(
    tiny(join(dir, 'other'), { warmStart: { steps: 1, experienceShare: 0.5 }, experience: { hekFile: join(dir, 'nope.json') } }),
  )
  await t.throwsAsync(missing.warmStart(), { message: /cannot read the HEK file/ })
})
