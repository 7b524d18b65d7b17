// Data parallel over 127.0.0.1: 2 ranks with shards of a global batch end with the same weights as 1 rank with the
// whole batch, in every loss aggregation and for SFT; a run resumed from a checkpoint continues them exactly.
// The ranks are child processes (test/distributed/fixtures/train_worker.ts) started by launch(), each with a hard time-out.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { distBackends, type TrainStats } from '../../lib/index.js'
import { launchWorker, readF32Safetensors, tempDir, weightDiff } from './helpers.js'

const MODES = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum-norm', 'sft'] as const
const STEPS = 4
// float32 sums in another order (per shard, then across ranks) differ in the last bits; AdamW carries that on.
const TOLERANCE = 1e-5
const gloo = distBackends().gloo
const serial = gloo ? test.serial : test.serial.skip
if (!gloo) test('dist tests need the gloo backend (apt-get install libgloo-dev, then npm run build:native)', (t) => t.pass())

let runs: Promise<{ one: string; two: string; resumed: string }> | undefined
function runAll() {
  runs ??= (async () => {
    const one = tempDir()
    const two = tempDir()
    const resumed = tempDir()
    const r1 = await launchWorker(1, { out: one, steps: STEPS }, 40_000)
    if (r1.exitCode !== 0) throw new Error(`1 rank failed (${r1.exitCode}):\n${r1.output}`)
    const r2 = await launchWorker(2, { out: two, steps: STEPS, checkpointAt: 2 }, 40_000)
    if (r2.exitCode !== 0) throw new Error(`2 ranks failed (${r2.exitCode}):\n${r2.output}`)
    const r3 = await launchWorker(2, { out: resumed, steps: STEPS, resumeFrom: join(two, 'ckpt') }, 40_000)
    if (r3.exitCode !== 0) throw new Error(`2 resumed ranks failed (${r3.exitCode}):\n${r3.output}`)
    return { one, two, resumed }
  })()
  return runs
}

const weights = (dir: string, rank: number, mode: string) => readF32Safetensors(join(dir, `rank${rank}`, mode, 'model.safetensors'))
const stats = (dir: string, rank: number, mode: string) =>
  JSON.parse(readFileSync(join(dir, `rank${rank}`, mode, 'stats.json'), 'utf8')) as TrainStats[]

serial('2 ranks with half the batch each reach the weights of 1 rank with the whole batch (every aggregation, sft)', async (t) => {
  t.timeout(90_000)
  const { one, two } = await runAll()
  for (const mode of MODES) {
    const single = weights(one, 0, mode)
    const rank0 = weights(two, 0, mode)
    const rank1 = weights(two, 1, mode)
    // Both ranks started from different random weights (seeds differ) and took identical updates.
    t.is(weightDiff(rank0, rank1), 0, `${mode}: the ranks' weights differ`)
    const d = weightDiff(single, rank0)
    t.true(d < TOLERANCE, `${mode}: 2 ranks differ from 1 rank by ${d}`)
    // The comparison has teeth: training moved the weights far more than the tolerance since the checkpoint.
    const moved = weightDiff(readF32Safetensors(join(two, 'ckpt', mode, 'model.safetensors')), rank0)
    t.true(moved > 1e-3, `${mode}: the weights moved only ${moved} in 2 steps`)
    // Metrics are those of the global batch, on every rank.
    const s1 = stats(one, 0, mode)
    const s2 = stats(two, 0, mode)
    const s2b = stats(two, 1, mode)
    t.is(s2.length, STEPS)
    for (let i = 0; i < STEPS; i++) {
      t.is(s2[i].tokens, s1[i].tokens, `${mode} step ${i}: tokens`)
      t.is(s2[i].step, i + 1)
      for (const key of ['loss', 'gradNorm', 'entropy'] as const) {
        t.true(Math.abs(s2[i][key] - s1[i][key]) < 1e-4, `${mode} step ${i}: ${key} ${s2[i][key]} vs ${s1[i][key]}`)
        t.is(s2b[i][key], s2[i][key], `${mode} step ${i}: ${key} differs between ranks`)
      }
    }
  }
})

serial('2 ranks resumed from a checkpoint written by rank 0 continue exactly as the uninterrupted run', async (t) => {
  t.timeout(90_000)
  const { two, resumed } = await runAll()
  for (const mode of MODES) {
    const straight = weights(two, 0, mode)
    for (const rank of [0, 1]) {
      const d = weightDiff(straight, weights(resumed, rank, mode))
      t.true(d < TOLERANCE, `${mode}: resumed rank ${rank} differs by ${d}`)
    }
    const s = stats(resumed, 0, mode)
    t.deepEqual(s.map((x) => x.step), [3, 4], `${mode}: the resumed run took steps ${s.map((x) => x.step)}`)
  }
})
