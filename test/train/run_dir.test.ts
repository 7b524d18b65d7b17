// A run directory belongs to one run, its files are named when they are damaged, and its append-only logs survive a
// torn last line (lib/train/run_dir.ts, lib/util/append_only.ts).
import test from 'ava'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import { cutPartialLastLine } from '../../lib/util/append_only.js'
import { configChanges } from '../../lib/train/run_dir.js'
import { TrajectoryStore } from '../../lib/experience/store.js'
import { MetricsLog, type RlMetrics } from '../../lib/report/metrics.js'
import { traj } from '../experience/helpers.js'
import { tinyRun } from './fixtures/tiny_run.js'

const fresh = (t: { teardown: (f: () => void) => void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-rundir-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

let finished: Promise<string> | undefined
/** One finished tiny run (steps 1), copied by the tests that damage it. */
function finishedRun(): Promise<string> {
  finished ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hiexp-rundir-finished-'))
    const trainer = await hx.Trainer.create(tinyRun(join(dir, 'run'), { steps: 1 }))
    await trainer.run({ quiet: true })
    return join(dir, 'run')
  })()
  return finished
}
test.after.always(async () => finished && rmSync(join(await finished, '..'), { recursive: true, force: true }))

async function copyOfFinished(t: Parameters<typeof fresh>[0]): Promise<string> {
  const to = join(fresh(t), 'run')
  const { cpSync } = await import('node:fs')
  cpSync(await finishedRun(), to, { recursive: true })
  return to
}

test('a run folder made by another configuration is refused, naming what differs; --resume-with-new-config continues it', async (t) => {
  const dir = await copyOfFinished(t)
  const other = tinyRun(dir, { steps: 1, algorithm: 'gspo', seed: 9, policy: { tiny: { hiddenSize: 64, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1 } } })
  const error = await t.throwsAsync(hx.Trainer.create(other))
  t.regex(error!.message, /holds a run of another configuration .*config\.json\): algorithm: "grpo" → "gspo"; loss\.aggregation: "token-mean" → "seq-mean-token-mean"; loss\.clipHigh: 0\.2 → 0\.0004; loss\.clipLow: 0\.2 → 0\.0003; policy\.tiny\.hiddenSize: 32 → 64; seed: 3 → 9\. .*--resume-with-new-config/)
  // Only the config changes here (same policy size: the checkpoint still loads); the change is printed, config.json rewritten.
  const lines: string[] = []
  const original = console.error
  console.error = (line: string) => void lines.push(line)
  try {
    const resumed = await hx.Trainer.create(tinyRun(dir, { steps: 2, algorithm: 'gspo' }), { resumeWithNewConfig: true })
    t.is(resumed.step, 1)
  } finally {
    console.error = original
  }
  t.regex(lines.join('\n'), /resuming .* under a new configuration: algorithm: "grpo" → "gspo"/)
  t.is(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).algorithm, 'gspo')
})

test('more steps, another device name or a moved folder are the same run', async (t) => {
  const dir = await copyOfFinished(t)
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 2 }))
  t.is(trainer.step, 1)
  t.deepEqual(configChanges({ a: { b: 1, c: [1] } }, { a: { b: 2, c: [1] }, d: 'x' }), ['a.b: 1 → 2', 'd: (unset) → "x"'])
})

test("outDir '' is refused; a folder of run files without config.json is refused", async (t) => {
  await t.throwsAsync(hx.Trainer.create(tinyRun('')), { message: /train config: outDir: must name a folder \('' would write the run into the current directory\)/ })
  const dir = fresh(t)
  writeFileSync(join(dir, 'metrics.jsonl'), '{"phase":"rl","step":1}\n')
  await t.throwsAsync(hx.Trainer.create(tinyRun(dir)), { message: /holds run files \(metrics\.jsonl\) but no config\.json/ })
})

test('a committed checkpoint missing hiexp_trainer.json, or a damaged JSON file of the run, is an error naming the file', async (t) => {
  const dir = await copyOfFinished(t)
  rmSync(join(dir, 'checkpoint', 'hiexp_trainer.json'))
  await t.throwsAsync(hx.Trainer.create(tinyRun(dir, { steps: 1 })), { message: /checkpoint\/hiexp_trainer\.json is missing: the committed checkpoint was damaged/ })
  const before = statSync(join(dir, 'metrics.jsonl')).size
  t.is(statSync(join(dir, 'metrics.jsonl')).size, before, 'nothing was truncated or restarted')

  for (const file of ['run.json', 'tokenizer.json', 'tokenizer_config.json']) {
    const copy = await copyOfFinished(t)
    writeFileSync(join(copy, 'checkpoint', file), '{ "truncated": ')
    const error = await t.throwsAsync(hx.Trainer.create(tinyRun(copy, { steps: 1 })))
    t.regex(error!.message, new RegExp(`checkpoint/${file.replace('.', '\\.')}: not valid JSON`), file)
  }
  const copy = await copyOfFinished(t)
  writeFileSync(join(copy, 'checkpoint', 'hiexp_trainer.json'), 'garbage')
  await t.throwsAsync(hx.Trainer.create(tinyRun(copy, { steps: 1 })), { message: /checkpoint\/hiexp_trainer\.json: not valid JSON/ })
})

test('a checkpoint written by the earlier layout (state.json beside it) is named as such, not restarted over', async (t) => {
  const dir = await copyOfFinished(t)
  rmSync(join(dir, 'checkpoint', 'run.json'))
  writeFileSync(join(dir, 'state.json'), '{"step":1,"warmStartDone":true}')
  await t.throwsAsync(hx.Trainer.create(tinyRun(dir, { steps: 1 })), { message: /run\.json is missing: .* written by an earlier hiexp, with state\.json beside it/ })
})

test('a torn last line is cut before the next append, so the store and the metrics stay readable', (t) => {
  const dir = fresh(t)
  const path = join(dir, 'trajectories.jsonl')
  const store = new TrajectoryStore(path)
  store.append(traj('q1', 'Who?', [{ answer: 'a' }], { reward: 1 }))
  appendFileSync(path, '{"id":"half a rec') // what a kill mid-write leaves
  new TrajectoryStore(path).append(traj('q2', 'Who else?', [{ answer: 'b' }], { reward: 0 }))
  t.deepEqual(store.read().map((r) => r.questionId), ['q1', 'q2'])

  const metrics = join(dir, 'metrics.jsonl')
  writeFileSync(metrics, '{"phase":"rl","step":1}\n{"phase":"rl","st')
  new MetricsLog(metrics).append({ phase: 'rl', step: 2 } as RlMetrics)
  t.deepEqual(hx.readMetrics(metrics).map((r) => r.step), [1, 2])

  // A file that is one partial line, and a long partial line across the backwards-read block size.
  writeFileSync(join(dir, 'one'), 'x'.repeat(10))
  t.is(cutPartialLastLine(join(dir, 'one')), 10)
  writeFileSync(join(dir, 'long'), 'a\n' + 'y'.repeat(200_000))
  t.is(cutPartialLastLine(join(dir, 'long')), 200_000)
  t.is(readFileSync(join(dir, 'long'), 'utf8'), 'a\n')
})
