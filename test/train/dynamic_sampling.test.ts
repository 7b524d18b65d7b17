// DAPO's dynamic sampling (rollout.dynamicSampling): zero-variance groups are dropped and more questions drawn until
// the step holds questionsPerStep groups with reward variance or maxDraws batches were drawn.
import test from 'ava'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import { tinyRun } from './fixtures/tiny_run.js'

const tempDir = (t: import('ava').ExecutionContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-dapo-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('the update batch holds only groups with reward variance; the metrics count draws, drops and the effective batch', async (t) => {
  const dir = tempDir(t)
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 3, warmStart: { steps: 0 }, groupSize: 4, rollout: { topk: 2, maxTurns: 3, maxTurnTokens: 12, maxTotalTokens: 320, maxInfoTokens: 96, dynamicSampling: { maxDraws: 5 } } }))
  const batches: Float32Array[] = []
  const trainStep = trainer.policy.trainStep.bind(trainer.policy)
  trainer.policy.trainStep = async (batch, loss) => {
    batches.push(Float32Array.from(batch.advantages as ArrayLike<number>))
    return trainStep(batch, loss)
  }
  let sawDrop = false
  for (let s = 0; s < 3; s++) {
    batches.length = 0
    const row = await trainer.rlStep()
    const advantages = batches.flatMap((b) => Array.from(b))
    t.is(advantages.length, row.effectiveBatch as number)
    t.true((row.effectiveBatch as number) <= 2 * 4)
    t.is(row.groupsDrawn, 2 * (row.draws as number))
    t.true((row.draws as number) >= 1 && (row.draws as number) <= 5)
    // GRPO gives every rollout of an all-equal group the advantage 0: a kept group never is all zeros.
    for (let g = 0; g < advantages.length; g += 4) t.true(advantages.slice(g, g + 4).some((a) => Math.abs(a) > 1e-6), `step ${s + 1}, group ${g / 4}`)
    // Fewer than questionsPerStep kept groups only when the draw cap was reached.
    if ((row.effectiveBatch as number) < 8) t.is(row.draws, 5)
    if ((row.groupsDropped as number) > 0) sawDrop = true
    t.is((row.groupsDrawn as number) - (row.groupsDropped as number) >= (row.effectiveBatch as number) / 4, true)
  }
  t.true(sawDrop, 'the untrained policy gives some groups with equal rewards')
})

test('the draw cap is honoured: with equal rewards everywhere, maxDraws batches are drawn and nothing is trained', async (t) => {
  const dir = tempDir(t)
  // No format reward and no penalty: the untrained policy never answers right, so every reward is 0.
  const config = tinyRun(dir, { steps: 1, warmStart: { steps: 0 }, reward: { formatWeight: 0, malformedPenalty: 0 }, rollout: { topk: 2, maxTurns: 3, maxTurnTokens: 12, maxTotalTokens: 320, maxInfoTokens: 96, dynamicSampling: { maxDraws: 3 } } })
  const trainer = await hx.Trainer.create(config)
  let trained = 0
  const trainStep = trainer.policy.trainStep.bind(trainer.policy)
  trainer.policy.trainStep = async (batch, loss) => {
    trained++
    return trainStep(batch, loss)
  }
  const row = await trainer.rlStep()
  t.is(row.rewardMeanDrawn, 0)
  t.is(row.draws, 3)
  t.is(row.groupsDrawn, 6)
  t.is(row.groupsDropped, 6)
  t.is(row.effectiveBatch, 0)
  t.is(trained, 0)
  t.is(trainer.policy.step, 0)
  // Every drawn rollout is kept as experience data.
  t.is(readFileSync(join(dir, 'trajectories.jsonl'), 'utf8').trim().split('\n').length, 6 * 3)
})

test('a run with dynamic sampling resumed from a checkpoint draws the same questions as an uninterrupted one', async (t) => {
  const rollout = { topk: 2, maxTurns: 3, maxTurnTokens: 12, maxTotalTokens: 320, maxInfoTokens: 96, dynamicSampling: { maxDraws: 3 } }
  const strip = (dir: string) =>
    hx.readMetrics(join(dir, 'metrics.jsonl')).map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !/seconds$|^time$/i.test(k))))
  const questions = (dir: string) => readFileSync(join(dir, 'trajectories.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { questionId?: string; question?: string }).question ?? '')
  const whole = tempDir(t)
  await (await hx.Trainer.create(tinyRun(whole, { steps: 3, rollout }))).run({ quiet: true })
  const parted = tempDir(t)
  await (await hx.Trainer.create(tinyRun(parted, { steps: 2, rollout }))).run({ quiet: true })
  const resumed = await hx.Trainer.create(tinyRun(parted, { steps: 3, rollout }), { resumeWithNewConfig: true })
  t.is(resumed.step, 2)
  await resumed.run({ quiet: true })
  t.deepEqual(strip(parted), strip(whole))
  t.deepEqual(questions(parted), questions(whole))
  t.true(questions(whole).length > 3 * 2 * 3 - 1)
})

test('dynamic sampling is refused with data parallel, naming the option', async (t) => {
  const dir = tempDir(t)
  const env = { WORLD_SIZE: process.env.WORLD_SIZE }
  process.env.WORLD_SIZE = '2'
  t.teardown(() => (env.WORLD_SIZE === undefined ? delete process.env.WORLD_SIZE : (process.env.WORLD_SIZE = env.WORLD_SIZE)))
  await t.throwsAsync(() => hx.Trainer.create(tinyRun(dir, { rollout: { dynamicSampling: { maxDraws: 2 } } })), { message: /rollout\.dynamicSampling runs on one process only/ })
})
