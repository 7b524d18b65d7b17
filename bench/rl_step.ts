/**
 * One RL step of the comparison configuration, profiled by phase, against an arithmetic bound measured in the same run.
 *
 *   npx tsx bench/rl_step.ts                       # 8 questions x 4 rollouts, old and new path, writes bench/results/rl-step.*
 *   npx tsx bench/rl_step.ts --paths new --steps 3
 *
 * The policy is the comparison's warm-started one (examples/configs/compare.json's warm start, trained on first use into
 * --warm). Each measurement starts from a copy of that folder, so every path begins from the same weights and seeds.
 * Paths: "old" = the decode loop driven from JavaScript one token at a time, every prompt prefilled, and one
 * micro-batch padded to the batch's longest row (the code before the throughput work, kept behind
 * Policy.nativeDecode = false, Policy.sharePrompts = false and microBatchTokens); "new" = the native decode loop, a
 * group's shared prompt prefilled once, and length-bucketed micro-batches (the defaults).
 * Bound: one packed forward of the step's sequences (no padding, no grad) + one packed forward+backward of the same
 * tokens, on the same threads (policyPackedBound). Memory: peak RSS of one step beside the config-time estimate, for
 * --memory group sizes (each in a fresh child process).
 */
import { Command } from 'commander'
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { writeChart } from '../lib/report/charts.js'
import { NATIVE_FUNCTIONS, type NativeProfile } from '../lib/native/binding.js'
import { native } from '../lib/native/loader.js'
import { parseTrainConfig, type TrainConfig } from '../lib/train/config.js'
import { estimateRolloutMemory } from '../lib/train/memory.js'
import { Trainer } from '../lib/train/trainer.js'
import { mean, std } from '../lib/util/stats.js'

const root = join(fileURLToPath(import.meta.url), '..', '..')
const int = (v: string) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got '${v}'`)
  return n
}
const cli = new Command()
  .option('--warm <dir>', 'warm-started run folder (trained when missing)', join(root, 'bench', '.cache', 'rl-step-warm'))
  .option('--questions <n>', 'questions per step', int, 8)
  .option('--group <n>', 'rollouts per question', int, 4)
  .option('--steps <n>', 'RL steps per measurement', int, 2)
  .option('--repeats <n>', 'measurements per path (alternating paths)', int, 2)
  .option('--paths <list>', 'old,new', 'old,new')
  .option('--memory <list>', 'group sizes whose peak RSS is measured (empty: none)', '64,256,1024')
  .option('--out <dir>', 'results folder', join(root, 'bench', 'results'))
  .option('--memory-child <groupSize>', 'internal: one step at this group size, prints peak RSS as JSON')
  .parse()
const o = cli.opts<{ warm: string; questions: number; group: number; steps: number; repeats: number; paths: string; memory: string; out: string; memoryChild?: string }>()

type PathName = 'old' | 'new'
const OLD_PATH_TOKENS = 1e12 // one micro-batch for the whole batch

function baseConfig(outDir: string, overrides: Partial<TrainConfig> = {}): TrainConfig {
  const compare = JSON.parse(readFileSync(join(root, 'examples', 'configs', 'compare.json'), 'utf8')) as TrainConfig
  return { ...compare, questionsPerStep: o.questions, groupSize: o.group, experience: { enabled: false }, outDir, ...overrides }
}

async function ensureWarmStart(): Promise<void> {
  if (existsSync(join(o.warm, 'checkpoint'))) return
  console.error(`warm start of the comparison policy into ${o.warm} (once)`)
  const trainer = await Trainer.create(baseConfig(o.warm, { steps: 0 }))
  await trainer.run({ quiet: true })
}

interface StepMeasure {
  path: PathName
  repeat: number
  step: number
  rollouts: number
  stepMs: number
  phases: Record<string, number>
  nativeCalls: number
  nativeCallsBy: Record<string, number>
  torchOps: number
  topOps: [string, number][]
  tokens: number
  paddedTrainTokens: number
  boundForwardMs: number
  boundForwardBackwardMs: number
  sequencesHash: string
  rewardMean: number
}

/** Counts calls to every addon function (the JS <-> native crossings). */
function countNativeCalls(): { reset(): void; read(): Record<string, number> } {
  const n = native() as unknown as Record<string, (...a: unknown[]) => unknown>
  const counts: Record<string, number> = {}
  for (const name of NATIVE_FUNCTIONS) {
    const f = n[name]
    n[name] = (...args: unknown[]) => {
      counts[name] = (counts[name] ?? 0) + 1
      return f(...args)
    }
  }
  return {
    reset: () => {
      for (const k of Object.keys(counts)) delete counts[k]
    },
    read: () => ({ ...counts }),
  }
}

const ms = (p: NativeProfile, name: string) => p.phases[name]?.ms ?? 0

function hash(seqs: number[][]): string {
  let h = 2166136261
  for (const s of seqs) for (const t of [...s, -1]) h = Math.imul(h ^ t, 16777619) >>> 0
  return h.toString(16)
}

async function measure(path: PathName, repeat: number, calls: ReturnType<typeof countNativeCalls>): Promise<StepMeasure[]> {
  const dir = mkdtempSync(join(tmpdir(), `hiexp-rl-step-${path}-`))
  try {
    cpSync(o.warm, dir, { recursive: true })
    const warmConfig = baseConfig(dir, { steps: o.steps })
    const config: TrainConfig = path === 'old' ? { ...warmConfig, optimizer: { ...warmConfig.optimizer, microBatchTokens: OLD_PATH_TOKENS } } : warmConfig
    const trainer = await Trainer.create(config, { resumeWithNewConfig: true })
    trainer.policy.nativeDecode = path === 'new'
    trainer.policy.sharePrompts = path === 'new'
    const captured: number[][] = []
    const trainStep = trainer.policy.trainStep.bind(trainer.policy)
    trainer.policy.trainStep = async (batch, loss) => {
      captured.push(...batch.sequences)
      return trainStep(batch, loss)
    }
    const out: StepMeasure[] = []
    for (let s = 0; s < o.steps; s++) {
      captured.length = 0
      calls.reset()
      const n = native()
      n.profileStart()
      const t0 = performance.now()
      const row = await trainer.rlStep()
      const stepMs = performance.now() - t0
      const prof = n.profileStop()
      const byFn = calls.read()
      const num = (k: string) => (typeof row[k] === 'number' ? (row[k] as number) * 1000 : 0)
      const generateMs = num('generateSeconds')
      const trainMs = num('trainSeconds')
      const nativeGen = ms(prof, 'generate.prefill') + (path === 'new' ? ms(prof, 'generate.decode-loop') : ms(prof, 'generate.decode'))
      const trainNative = ['train.forward', 'train.reference-forward', 'train.loss', 'train.backward', 'train.optimizer'].reduce((a, k) => a + ms(prof, k), 0)
      const phases: Record<string, number> = {
        'generate: prefill': ms(prof, 'generate.prefill'),
        'generate: decode (forward + sample)': ms(prof, 'generate.decode'),
        'generate: stop checks (native)': ms(prof, 'generate.stop-checks'),
        'generate: JS loop, stop checks (JS) and crossings': Math.max(0, generateMs - nativeGen),
        retrieval: num('retrieveSeconds'),
        'rollout loop: prompts, tokenization, parsing': Math.max(0, num('rolloutSeconds') - generateMs - num('retrieveSeconds')),
        'old log-probs (sampling log-probs reused)': 0,
        'train: forward': ms(prof, 'train.forward'),
        'train: reference forward (KL)': ms(prof, 'train.reference-forward'),
        'train: loss': ms(prof, 'train.loss'),
        'train: backward': ms(prof, 'train.backward'),
        'train: optimizer (clip + AdamW)': ms(prof, 'train.optimizer'),
        'train: batch assembly and crossings': Math.max(0, trainMs - trainNative),
        'reward, records, logging': Math.max(0, stepMs - num('rolloutSeconds') - trainMs),
      }
      // The bound, outside the step's timing: the step's own sequences, packed.
      const lengths = Int32Array.from(captured.map((q) => q.length))
      const bound = await n.policyPackedBound((trainer.policy as unknown as { handle: never }).handle, Int32Array.from(captured.flat()), lengths)
      const longest = Math.max(...captured.map((q) => q.length))
      out.push({
        path,
        repeat,
        step: s + 1,
        rollouts: captured.length,
        stepMs,
        phases,
        nativeCalls: Object.values(byFn).reduce((a, b) => a + b, 0) - 1, // less the bound's own call
        nativeCallsBy: byFn,
        torchOps: prof.ops,
        topOps: Object.entries(prof.opsByName).sort((a, b) => b[1] - a[1]).slice(0, 12),
        tokens: captured.reduce((a, q) => a + q.length, 0),
        paddedTrainTokens: captured.length * longest,
        boundForwardMs: bound.forwardMs,
        boundForwardBackwardMs: bound.forwardBackwardMs,
        sequencesHash: hash(captured),
        rewardMean: row.rewardMean as number,
      })
      console.error(`${path} #${repeat} step ${s + 1}: ${(stepMs / 1000).toFixed(2)} s, ${(captured.length / (stepMs / 1000)).toFixed(1)} rollouts/s, bound ${((bound.forwardMs + bound.forwardBackwardMs) / 1000).toFixed(2)} s`)
    }
    return out
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** One step at `groupSize` (1 question) in this process; prints its peak RSS and the config-time estimate. */
async function memoryChild(groupSize: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-rl-mem-'))
  try {
    cpSync(o.warm, dir, { recursive: true })
    const config = baseConfig(dir, { steps: 1, questionsPerStep: 1, groupSize })
    const trainer = await Trainer.create(config, { resumeWithNewConfig: true })
    const before = process.resourceUsage().maxRSS * 1024
    await trainer.rlStep()
    const estimate = estimateRolloutMemory(parseTrainConfig(config))
    console.log(JSON.stringify({ groupSize, peakRssBytes: process.resourceUsage().maxRSS * 1024, rssBeforeStepBytes: before, estimateBytes: estimate.bytes }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

interface MemoryMeasure {
  groupSize: number
  peakRssBytes: number
  rssBeforeStepBytes: number
  estimateBytes: number
}

function memoryTable(rows: MemoryMeasure[]): string {
  const mb = (b: number) => (b / 2 ** 20).toFixed(0)
  return [
    '| groupSize (1 question) | RSS before the step (MB) | peak RSS (MB) | estimate (MB) | estimate / peak |',
    '|---:|---:|---:|---:|---:|',
    ...rows.map((m) => `| ${m.groupSize} | ${mb(m.rssBeforeStepBytes)} | ${mb(m.peakRssBytes)} | ${mb(m.estimateBytes)} | ${(m.estimateBytes / m.peakRssBytes).toFixed(2)} |`),
  ].join('\n') + '\n'
}

function summarize(rows: StepMeasure[]) {
  const by = (p: PathName) => rows.filter((r) => r.path === p)
  const summary: Record<string, unknown> = {}
  for (const p of ['old', 'new'] as PathName[]) {
    const r = by(p)
    if (r.length === 0) continue
    const rps = r.map((x) => x.rollouts / (x.stepMs / 1000))
    const ratio = r.map((x) => x.stepMs / (x.boundForwardMs + x.boundForwardBackwardMs))
    summary[p] = {
      steps: r.length,
      rolloutsPerSecond: { mean: mean(rps), std: std(rps) },
      stepSeconds: { mean: mean(r.map((x) => x.stepMs / 1000)), std: std(r.map((x) => x.stepMs / 1000)) },
      boundSeconds: mean(r.map((x) => (x.boundForwardMs + x.boundForwardBackwardMs) / 1000)),
      stepOverBound: { mean: mean(ratio), std: std(ratio) },
      nativeCallsPerStep: mean(r.map((x) => x.nativeCalls)),
      torchOpsPerStep: mean(r.map((x) => x.torchOps)),
      tokensPerStep: mean(r.map((x) => x.tokens)),
      paddedTrainTokensPerStep: mean(r.map((x) => x.paddedTrainTokens)),
      phasesMs: Object.fromEntries(Object.keys(r[0].phases).map((k) => [k, mean(r.map((x) => x.phases[k]))])),
    }
  }
  const old = summary.old as { rolloutsPerSecond: { mean: number } } | undefined
  const fresh = summary.new as { rolloutsPerSecond: { mean: number } } | undefined
  if (old && fresh) summary.speedup = fresh.rolloutsPerSecond.mean / old.rolloutsPerSecond.mean
  // Same seed and weights: the first step of both paths must sample the same rollouts.
  const firsts = rows.filter((r) => r.step === 1)
  summary.firstStepSameRollouts = new Set(firsts.map((r) => r.sequencesHash)).size === 1
  return summary
}

function table(summary: Record<string, unknown>): string {
  const paths = (['old', 'new'] as const).filter((p) => summary[p])
  const s = (p: string) => summary[p] as { phasesMs: Record<string, number>; rolloutsPerSecond: { mean: number; std: number }; stepSeconds: { mean: number; std: number }; boundSeconds: number; stepOverBound: { mean: number; std: number }; nativeCallsPerStep: number; torchOpsPerStep: number; tokensPerStep: number; paddedTrainTokensPerStep: number }
  const lines = [`| | ${paths.join(' | ')} |`, `|---|${paths.map(() => '---:').join('|')}|`]
  const row = (label: string, f: (p: string) => string) => lines.push(`| ${label} | ${paths.map(f).join(' | ')} |`)
  for (const k of Object.keys(s(paths[0]).phasesMs)) row(`${k} (ms)`, (p) => s(p).phasesMs[k].toFixed(0))
  row('**step (s)**', (p) => `**${s(p).stepSeconds.mean.toFixed(2)} ± ${s(p).stepSeconds.std.toFixed(2)}**`)
  row('**rollouts/s**', (p) => `**${s(p).rolloutsPerSecond.mean.toFixed(1)} ± ${s(p).rolloutsPerSecond.std.toFixed(1)}**`)
  row('bound: packed forward + forward/backward (s)', (p) => s(p).boundSeconds.toFixed(2))
  row('step / bound', (p) => `${s(p).stepOverBound.mean.toFixed(2)} ± ${s(p).stepOverBound.std.toFixed(2)}`)
  row('native calls per step', (p) => s(p).nativeCallsPerStep.toFixed(0))
  row('libtorch ops per step', (p) => s(p).torchOpsPerStep.toFixed(0))
  row('tokens per step (prompt + generated + inserted)', (p) => s(p).tokensPerStep.toFixed(0))
  row('padded tokens of one whole-batch pass', (p) => s(p).paddedTrainTokensPerStep.toFixed(0))
  return lines.join('\n')
}

async function main() {
  if (o.memoryChild !== undefined) return memoryChild(int(o.memoryChild))
  await ensureWarmStart()
  const calls = countNativeCalls()
  const paths = o.paths.split(',').map((p) => p.trim()).filter((p) => p !== '') as PathName[]
  for (const p of paths) if (p !== 'old' && p !== 'new') throw new Error(`--paths: expected old and/or new, got '${p}'`)
  const rows: StepMeasure[] = []
  for (let rep = 0; rep < o.repeats; rep++) for (const p of paths) rows.push(...(await measure(p, rep, calls)))
  const memory: MemoryMeasure[] = []
  for (const g of o.memory.split(',').filter((x) => x.trim() !== '').map(int)) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--warm', o.warm, '--memory-child', String(g)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    const m = JSON.parse(out.trim().split('\n').at(-1)!) as MemoryMeasure
    memory.push(m)
    console.error(`memory: groupSize ${g}: peak RSS ${(m.peakRssBytes / 2 ** 30).toFixed(2)} GiB, estimate ${(m.estimateBytes / 2 ** 30).toFixed(2)} GiB`)
  }
  mkdirSync(o.out, { recursive: true })
  if (memory.length > 0) {
    writeFileSync(join(o.out, 'rl-step-memory.json'), JSON.stringify({ command: `npx tsx bench/rl_step.ts ${process.argv.slice(2).join(' ')}`.trim(), memory }, null, 2) + '\n')
    const md = memoryTable(memory)
    writeFileSync(join(o.out, 'rl-step-memory.md'), md)
    console.log(md)
  }
  if (paths.length === 0) return
  const info = native().info()
  const summary = summarize(rows)
  const result = {
    command: `npx tsx bench/rl_step.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { threads: info.threads, torch: info.torchVersion, node: process.version },
    config: { questions: o.questions, group: o.group, steps: o.steps, repeats: o.repeats },
    summary,
    steps: rows,
  }
  writeFileSync(join(o.out, 'rl-step.json'), JSON.stringify(result, null, 2) + '\n')
  const md = `${table(summary)}\n\nfirst step, same rollouts on both paths: ${summary.firstStepSameRollouts ? 'yes' : 'NO'}; speed-up (rollouts/s): ${typeof summary.speedup === 'number' ? summary.speedup.toFixed(2) + 'x' : '-'}\n`
  writeFileSync(join(o.out, 'rl-step.md'), md)
  console.log(md)
  const chartRows = rows.flatMap((r) => Object.entries(r.phases).map(([phase, v]) => ({ path: r.path, phase, seconds: v / 1000 / rows.filter((x) => x.path === r.path).length })))
  await writeChart(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: `One RL step, ${o.questions} questions x ${o.group} rollouts (mean over ${o.repeats * o.steps} steps per path)`,
      width: 480,
      height: 120,
      data: { values: chartRows },
      mark: 'bar',
      encoding: {
        y: { field: 'path', type: 'nominal', title: null },
        x: { field: 'seconds', type: 'quantitative', aggregate: 'sum', title: 'seconds per step' },
        color: { field: 'phase', type: 'nominal', legend: { orient: 'bottom', columns: 2 } },
      },
    },
    join(o.out, 'rl-step'),
  )
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e))
  process.exit(1)
})
