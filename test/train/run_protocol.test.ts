// The run protocol (lib/train/run_dir.ts, docs/run-protocol.md): a training run killed with SIGKILL at each point of
// its commit protocol, then resumed, ends in the state of a run that was never interrupted: the same metrics (timings
// aside), the same trajectories (their wall-clock time aside), the same commit record and the same final weights; for
// a run from a HEK file and for one that builds its own HEK.
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
const hekOf = (dir: string) => {
  const { createdAt: _c, build: _b, ...rest } = JSON.parse(readFileSync(join(dir, 'checkpoint', 'hek.json'), 'utf8')) as Record<string, unknown>
  return rest
}

// A HiExp run that builds its own HEK after the warm start (no hekFile) and refreshes it: a resumed run reads that HEK
// back from its checkpoint and must retrieve exactly as the live one did (issue 22 B1).
async function builtHekConfig(name: string): Promise<hx.TrainConfig> {
  return tinyRun(join(base, name), {
    steps: 4,
    checkpointEvery: 2,
    validation: { every: 2, questions: 3 },
    // A warm start long enough that some build rollouts succeed: the offline distiller needs a success and a failure.
    warmStart: { steps: 60, batchSize: 8, lr: 5e-3 },
    experience: { enabled: true, buildQuestions: 12, buildGroupSize: 6, refreshEvery: 3 },
  })
}

const references = new Map<string, Promise<string>>()
/** The uninterrupted run of a kind of config, trained once for every comparison. */
function uninterrupted(kind: 'hek-file' | 'built-hek' = 'hek-file'): Promise<string> {
  let reference = references.get(kind)
  if (!reference) {
    reference = (async () => {
      const config = kind === 'hek-file' ? await runConfig('uninterrupted') : await builtHekConfig('uninterrupted-built-hek')
      const ended = await train(config)
      if (ended.code !== 0) throw new Error(`the uninterrupted run failed: ${ended.output}`)
      return config.outDir!
    })()
    references.set(kind, reference)
  }
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

// The run that builds its HEK: with the HEK built but not committed, in the first step after it was committed (the
// resumed run reads it back), and after a refresh of it.
const BUILT_HEK_KILLS = ['checkpoint:begin@2', 'step:trajectories-written@1', 'step:trajectories-written@4']

const CASES = [...KILLS.map((fault) => ({ fault, kind: 'hek-file' as const })), ...BUILT_HEK_KILLS.map((fault) => ({ fault, kind: 'built-hek' as const }))]

for (const { fault, kind } of CASES) {
  test(`${kind === 'built-hek' ? 'a run building its own HEK, ' : ''}killed at ${fault}, the resumed run equals an uninterrupted one`, async (t) => {
    const name = `killed-${kind}-${fault.replace(/[:@]/g, '-')}`
    const config = kind === 'hek-file' ? await runConfig(name) : await builtHekConfig(name)
    const killed = await train(config, fault)
    t.is(killed.signal, 'SIGKILL', `the run must reach ${fault} and die there: ${killed.output}`)
    const resumed = await train(config)
    t.is(resumed.code, 0, resumed.output)
    const ref = await uninterrupted(kind)
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
    for (const f of ['model.safetensors', 'trainer_state.safetensors']) {
      t.true(bytes(join(dir, 'checkpoint', f)) === bytes(join(ref, 'checkpoint', f)), `checkpoint/${f}`)
    }
    // The HEK exactly, but for when it was built and how long that took.
    t.deepEqual(hekOf(dir), hekOf(ref), 'checkpoint/hek.json')
    t.false(existsSync(join(dir, 'checkpoint.new')) || existsSync(join(dir, 'checkpoint.old')), 'no checkpoint.new / .old left behind')
  })
}
