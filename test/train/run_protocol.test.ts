// The run protocol (lib/train/run_dir.ts, docs/run-protocol.md): a training run killed with SIGKILL at each point of
// its commit protocol, then resumed, ends in the state of a run that was never interrupted: the same metrics (timings
// aside), the same trajectories (their wall-clock time aside), the same commit record and the same final weights.
import test from 'ava'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as hx from '../../lib/index.js'
import { plantedGroups } from '../experience/helpers.js'
import { tinyRun } from './fixtures/tiny_run.js'
import { runScript, type ScriptResult } from '../helpers/run_child.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CHILD = join(ROOT, 'test', 'train', 'fixtures', 'train_child.ts')
const base = mkdtempSync(join(tmpdir(), 'hiexp-protocol-'))
test.after.always(() => rmSync(base, { recursive: true, force: true }))

/** Trains `config` in a child process, killed at `fault` when given. */
async function train(config: hx.TrainConfig, fault?: string): Promise<ScriptResult> {
  const file = join(config.outDir!, '..', `${Math.random().toString(36).slice(2)}.config.json`)
  writeFileSync(file, JSON.stringify(config))
  const ended = await runScript(CHILD, [file], { cwd: ROOT, env: { ...process.env, HIEXP_FAULT: fault ?? '' } })
  return { ...ended, output: ended.output.slice(-3000) }
}

// A HiExp run from a HEK file, with a dynamic-HEK refresh between checkpoints, so that the HEK, the refresh input and
// redone steps are all part of what must come back.
let hekFile: string
async function runConfig(name: string): Promise<hx.TrainConfig> {
  hekFile ??= await (async () => {
    const file = join(base, 'planted-hek.json')
    const hek = await hx.HierarchicalExperience.build(await new hx.ContrastiveAnalyzer().distill(plantedGroups()))
    hek.save(file)
    return file
  })()
  return tinyRun(join(base, name), {
    steps: 4,
    checkpointEvery: 2,
    validation: { every: 2, questions: 3 },
    experience: { enabled: true, hekFile, refreshEvery: 3 },
  })
}

const TIMING = /seconds$|^time$/i  // wall-clock numbers: the phases' durations and each row's time
const metricsOf = (dir: string) =>
  hx.readMetrics(join(dir, 'metrics.jsonl')).map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !TIMING.test(k))))
const trajectoriesOf = (dir: string) =>
  readFileSync(join(dir, 'trajectories.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const { time: _time, ...rest } = JSON.parse(line) as Record<string, unknown>
      return rest
    })
const bytes = (path: string) => readFileSync(path).toString('base64')

let reference: Promise<string> | undefined
/** The uninterrupted run, trained once for every comparison. */
function uninterrupted(): Promise<string> {
  reference ??= (async () => {
    const config = await runConfig('uninterrupted')
    const ended = await train(config)
    if (ended.code !== 0) throw new Error(`the uninterrupted run failed: ${ended.output}`)
    return config.outDir!
  })()
  return reference
}

// Every point of the protocol, at an occurrence that matters: the first checkpoint (after the warm start) and a later
// one (two checkpoints on disk), torn appends of both logs, and kills between a step's writes and its commit.
const KILLS = [
  'metrics:append@1', // a torn line in the middle of the warm start
  'metrics:append@6', // a torn RL row
  'trajectories:append@1',
  'trajectories:append@3',
  'step:trajectories-written@2',
  'step:metrics-written@3', // after the step-3 refresh, before the step-4 commit
  'checkpoint:begin@1',
  'checkpoint:saved@1',
  'checkpoint:committed@1', // a whole checkpoint.new and no checkpoint/ yet
  'checkpoint:old-moved@1',
  'checkpoint:committed@2', // a whole checkpoint.new beside the previous checkpoint/
  'checkpoint:old-moved@2', // checkpoint.old and checkpoint.new, no checkpoint/
  'checkpoint:swapped@2',
  'checkpoint:swapped@3', // the last one: the run is complete on disk, its cleanup is not
]

for (const fault of KILLS) {
  test(`killed at ${fault}, the resumed run equals an uninterrupted one`, async (t) => {
    const config = await runConfig(`killed-${fault.replace(/[:@]/g, '-')}`)
    const killed = await train(config, fault)
    t.is(killed.signal, 'SIGKILL', `the run must reach ${fault} and die there: ${killed.output}`)
    const resumed = await train(config)
    t.is(resumed.code, 0, resumed.output)
    const ref = await uninterrupted()
    const dir = config.outDir!
    t.deepEqual(metricsOf(dir), metricsOf(ref), 'metrics.jsonl')
    t.deepEqual(trajectoriesOf(dir), trajectoriesOf(ref), 'trajectories.jsonl')
    // The commit record: the same state; its byte counts are this run's own (timings differ in length).
    const commit = (d: string) => JSON.parse(readFileSync(join(d, 'checkpoint', 'run.json'), 'utf8')) as Record<string, unknown>
    const { metricsBytes, trajectoryBytes, ...state } = commit(dir)
    const { metricsBytes: _m, trajectoryBytes: _t, ...referenceState } = commit(ref)
    t.deepEqual(state, referenceState, 'checkpoint/run.json')
    t.is(metricsBytes, statSync(join(dir, 'metrics.jsonl')).size)
    t.deepEqual(trajectoryBytes, [statSync(join(dir, 'trajectories.jsonl')).size])
    for (const f of ['model.safetensors', 'trainer_state.safetensors', 'hek.json']) {
      t.true(bytes(join(dir, 'checkpoint', f)) === bytes(join(ref, 'checkpoint', f)), `checkpoint/${f}`)
    }
    t.false(existsSync(join(dir, 'checkpoint.new')) || existsSync(join(dir, 'checkpoint.old')), 'no checkpoint.new / .old left behind')
  })
}
