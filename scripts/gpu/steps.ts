// The five checks of gpu-check (issue 14, points 1-5). Each runs its programs as child processes against the CUDA
// build named by HIEXP_ADDON and turns their output into a StepResult: a verdict, one summary line, each problem as
// a sentence, and the tables of the report.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { GpuKernelResult } from '../../bench/gpu_kernels.js'
import type { GpuCheckOptions, StepName } from './args.js'
import type { MachineFacts } from './preflight.js'
import { formatNumber, type StepResult, type Table } from './report.js'
import { failureOf, runCommand, tail, type CommandResult } from './run.js'
import { parseTap, requireRun, type RequiredTests } from './tap.js'

export interface StepContext {
  root: string
  options: GpuCheckOptions
  facts: MachineFacts
  /** The CUDA build of the addon (HIEXP_ADDON for every child). */
  addon: string
  /** Scratch folder for the steps' JSON and the end-to-end model. */
  work: string
  log: (text: string) => void
}

export type StepOutcome = Omit<StepResult, 'name' | 'title' | 'seconds'>

export interface Step {
  name: StepName
  title: string
  /** The most this step may take, in seconds (less when the budget has less left). */
  capS: number
  run(ctx: StepContext, timeoutMs: number): Promise<StepOutcome>
}

/** The addon file a build folder yields (cmake-js --out <dir> puts it under Release/). */
export function addonPath(buildDir: string): string {
  return join(buildDir, 'Release', 'hiexp.node')
}

function childEnv(ctx: StepContext): NodeJS.ProcessEnv {
  return { ...process.env, HIEXP_ADDON: ctx.addon, PYTHONUNBUFFERED: '1' }
}

function tsx(ctx: StepContext): string {
  return join(ctx.root, 'node_modules', '.bin', 'tsx')
}

function run(ctx: StepContext, command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  ctx.log(`\n[gpu-check] $ ${[command, ...args].join(' ')}\n`)
  return runCommand(command, args, { cwd: ctx.root, env: { ...childEnv(ctx), ...env }, timeoutMs, log: ctx.log })
}

/** A failed command as a StepOutcome: why, and the end of its output. */
function commandFailed(what: string, r: CommandResult, extra: string[] = []): StepOutcome {
  const why = failureOf(what, r) ?? `${what} failed`
  return { status: 'fail', summary: why, problems: [why, ...extra, `last output:\n${tail(r.stdout + r.stderr)}`] }
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T
}

/** What scripts/gpu/addon_info.ts prints. */
export interface AddonInfo {
  version: string
  torchVersion: string
  cudaCompiled: boolean
  devices: string[]
  threads: number
  distBackends: { gloo: boolean; nccl: boolean }
}

/** Whether the build is the one this check needs: CUDA compiled in, cuda:0 seen, NCCL there, the Python's libtorch. */
export function addonProblems(a: AddonInfo, pythonTorch: string | undefined): string[] {
  const problems: string[] = []
  if (!a.cudaCompiled) problems.push('the addon was built without its CUDA kernels (info().cudaCompiled is false)')
  if (!a.devices.includes('cuda:0')) problems.push(`the addon sees no cuda:0 (devices: ${a.devices.join(', ')})`)
  if (!a.distBackends.nccl) problems.push('the addon has no NCCL backend (nccl.h was not on the include path when it was built)')
  const base = (v: string) => v.split('+')[0]
  if (pythonTorch && base(a.torchVersion) !== base(pythonTorch)) {
    problems.push(`the addon links libtorch ${a.torchVersion}, but this machine's PyTorch is ${pythonTorch}`)
  }
  return problems
}

export async function checkAddon(ctx: StepContext, timeoutMs: number): Promise<{ info?: AddonInfo; outcome?: StepOutcome }> {
  if (!existsSync(ctx.addon)) {
    return { outcome: { status: 'fail', summary: `no addon at ${ctx.addon}`, problems: [`${ctx.addon} is missing: run the build step (leave out --only, or add build to it)`] } }
  }
  const r = await run(ctx, tsx(ctx), [join(ctx.root, 'scripts', 'gpu', 'addon_info.ts')], timeoutMs)
  if (failureOf('loading the addon', r)) return { outcome: commandFailed('loading the CUDA build of the addon', r) }
  const info = JSON.parse(r.stdout.trim().split('\n').slice(-1)[0]) as AddonInfo
  const problems = addonProblems(info, ctx.facts.probe?.torch)
  if (problems.length) return { info, outcome: { status: 'fail', summary: problems[0], problems, data: info } }
  return { info }
}

/** cmake-js's command line for the CUDA build into options.buildDir (node runs it). */
export function cmakeJsArgs(root: string, options: Pick<GpuCheckOptions, 'buildDir' | 'jobs'>, facts: MachineFacts): string[] {
  const p = facts.probe
  if (!p?.cmake_prefix_path || !p.capability || !p.nccl_include || !facts.nvcc) {
    throw new Error('the build needs the probe\'s cmake_prefix_path, capability and nccl_include, and nvcc (the preflight checks them)')
  }
  return [
    join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js'),
    'rebuild',
    '--directory', root,
    '--out', options.buildDir,
    '--parallel', String(options.jobs),
    `--CDTorch_DIR=${join(p.cmake_prefix_path, 'Torch')}`,
    '--CDHIEXP_CUDA=ON',
    `--CDCMAKE_CUDA_COMPILER=${facts.nvcc}`,
    // This GPU's architecture alone: half the CUDA compile time of the default (80 and 90).
    `--CDCMAKE_CUDA_ARCHITECTURES=${p.capability}`,
    // PyTorch's wheels ship NCCL's header in the nvidia-nccl wheel, not beside libtorch's headers. (Not through
    // CMAKE_CXX_FLAGS: cmake-js sets that itself after the --CD options, and the last -D wins.)
    `--CDCMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES=${p.nccl_include}`,
  ]
}

export const buildStep: Step = {
  name: 'build',
  title: "the addon against this machine's PyTorch libtorch, CUDA and NCCL on",
  capS: 300,
  async run(ctx, timeoutMs) {
    const started = Date.now()
    // CUDACXX too: CMakeLists' check_language(CUDA) probes in a project of its own, which reads the environment.
    const r = await run(ctx, process.execPath, cmakeJsArgs(ctx.root, ctx.options, ctx.facts), timeoutMs, { CUDACXX: ctx.facts.nvcc })
    if (failureOf('the build', r)) return commandFailed('the CUDA build (cmake-js)', r)
    const buildS = (Date.now() - started) / 1000
    const { info, outcome } = await checkAddon(ctx, Math.max(10_000, timeoutMs - (Date.now() - started)))
    if (outcome) return outcome
    return {
      status: 'pass',
      summary: `built in ${buildS.toFixed(0)} s against libtorch ${info!.torchVersion}, sm_${ctx.facts.probe!.capability}, NCCL on`,
      problems: [],
      data: info,
    }
  },
}

/** The CUDA tests: each run must report its tests as passed, none skipped. */
export const CUDA_TEST_RUNS: { file: string; match?: string; required: RequiredTests }[] = [
  {
    file: 'test/ops/rl/policy_loss_cuda.test.ts',
    required: { what: 'the CUDA policy loss against the CPU kernel, every option', title: /CUDA kernel/, min: 2 },
  },
  {
    file: 'test/distributed/group.test.ts',
    match: '*nccl*',
    required: { what: 'a 1-rank NCCL process group', title: /nccl/, min: 1 },
  },
]

export const cudaTestsStep: Step = {
  name: 'cuda-tests',
  title: 'CUDA policy loss vs CPU for every option; 1-rank NCCL group (no skips)',
  capS: 150,
  async run(ctx, timeoutMs) {
    const deadline = Date.now() + timeoutMs
    const problems: string[] = []
    const rows: (string | number)[][] = []
    let passed = 0
    for (const t of CUDA_TEST_RUNS) {
      const ava = join(ctx.root, 'node_modules', '.bin', 'ava')
      const args = ['--tap', ...(t.match ? ['--match', t.match] : []), t.file]
      const r = await run(ctx, ava, args, Math.max(5_000, deadline - Date.now()))
      const v = requireRun(parseTap(r.stdout), [t.required])
      const failure = failureOf(`ava ${t.file}`, r)
      if (failure) problems.push(failure)
      problems.push(...v.problems.map((p) => `${t.file}: ${p}`))
      passed += v.passed
      rows.push([t.file + (t.match ? ` (--match '${t.match}')` : ''), v.passed, v.skipped, v.failed, !failure && v.ok ? 'pass' : 'FAIL'])
    }
    const table: Table = { title: 'CUDA tests (ava --tap)', header: ['tests', 'passed', 'skipped', 'failed', 'verdict'], rows }
    if (problems.length) return { status: 'fail', summary: problems[0], problems, tables: [table] }
    return { status: 'pass', summary: `${passed} CUDA/NCCL tests passed, none skipped`, problems: [], tables: [table] }
  },
}

/** One row of bench/hf_parity.py's JSON. */
export interface ParityRow {
  direction: string
  tied: boolean
  device: string
  dtype: string
  max_abs_diff: number
  hiexp_err_vs_f64: number
  transformers_err_vs_f64: number
  tolerance: string
  pass: boolean
}

export interface ParityResult {
  transformers: string
  torch: string
  pass: boolean
  results: ParityRow[]
  notes: string[]
}

export function parityOutcome(p: ParityResult): StepOutcome {
  const table: Table = {
    title: 'Logits of a random Qwen2 (vocab 320, hidden 64, 3 layers, 8 heads / 2 kv, qkv bias, rope theta 1e4) on 3 x 24 random ids',
    header: ['direction', 'head', 'dtype', 'max |hiexp - transformers|', 'hiexp vs float64', 'transformers vs float64', 'tolerance', 'verdict'],
    rows: p.results.map((r) => [r.direction, r.tied ? 'tied' : 'untied', r.dtype, r.max_abs_diff, r.hiexp_err_vs_f64, r.transformers_err_vs_f64, r.tolerance, r.pass ? 'pass' : 'FAIL']),
  }
  const problems = p.results
    .filter((r) => !r.pass)
    .map((r) => `${r.direction}, ${r.tied ? 'tied' : 'untied'} head, ${r.dtype}: max |diff| ${formatNumber(r.max_abs_diff)}, hiexp vs float64 ${formatNumber(r.hiexp_err_vs_f64)}; needs ${r.tolerance}`)
  problems.push(...p.notes)
  const worst = (dtype: string) => Math.max(...p.results.filter((r) => r.dtype === dtype).map((r) => r.max_abs_diff))
  const dtypes = [...new Set(p.results.map((r) => r.dtype))]
  const summary = dtypes.map((d) => `${d} max |diff| ${formatNumber(worst(d))}`).join(', ')
  if (p.results.length === 0) return { status: 'fail', summary: 'the parity script reported no cases', problems: ['the parity script reported no cases'], tables: [table], data: p }
  return { status: p.pass && problems.length === 0 ? 'pass' : 'fail', summary: p.pass ? summary : problems[0], problems, tables: [table], data: p }
}

export const parityStep: Step = {
  name: 'parity',
  title: 'logits vs transformers, both directions, float32 < 1e-4 and bfloat16',
  capS: 150,
  async run(ctx, timeoutMs) {
    const out = join(ctx.work, 'hf_parity.json')
    const r = await run(ctx, ctx.options.python, [join(ctx.root, 'bench', 'hf_parity.py'), '--device', 'cuda', '--dtypes', 'float32,bfloat16', '--out', out], timeoutMs)
    // Exit 1 with the JSON written is a mismatch, reported case by case; anything else is a crash.
    if (!existsSync(out)) return commandFailed('bench/hf_parity.py', r)
    const outcome = parityOutcome(readJson<ParityResult>(out))
    const failure = failureOf('bench/hf_parity.py', r)
    if (failure && outcome.status === 'pass') return { ...outcome, status: 'fail', summary: failure, problems: [failure] }
    return outcome
  },
}

export function kernelsOutcome(k: GpuKernelResult): StepOutcome {
  const table: Table = {
    title: `Policy loss, forward + backward, median ms per call on ${k.device} (libtorch ${k.torch}; host arrays in, gradient out)`,
    header: ['loss', 'B x T', 'hiexp fused CUDA', 'libtorch ops + autograd', 'CPU kernel', 'fused vs ops', 'max |grad - CPU| fused', 'max |grad - CPU| ops'],
    rows: k.rows.map((r) => [r.algorithm, r.shape, r.fusedMs, r.torchOpsMs, r.cpuMs, `${r.speedupVsTorchOps.toFixed(2)}x`, r.fusedMaxGradDiff, r.opsMaxGradDiff]),
  }
  const speedups = k.rows.map((r) => r.speedupVsTorchOps)
  const summary = speedups.length
    ? `fused CUDA kernel ${Math.min(...speedups).toFixed(1)}-${Math.max(...speedups).toFixed(1)}x the speed of the libtorch-ops composition`
    : 'no rows'
  const ok = k.pass && k.rows.length > 0
  return { status: ok ? 'pass' : 'fail', summary: ok ? summary : (k.problems[0] ?? 'no rows'), problems: k.problems, tables: [table], data: k }
}

export const kernelsStep: Step = {
  name: 'kernels',
  title: 'fused CUDA policy loss vs the libtorch-ops composition (benchmark)',
  capS: 120,
  async run(ctx, timeoutMs) {
    const out = join(ctx.work, 'gpu_kernels.json')
    const r = await run(ctx, tsx(ctx), [join(ctx.root, 'bench', 'gpu_kernels.ts'), '--device', 'cuda:0', '--time-ms', '500', '--out', out], timeoutMs)
    if (!existsSync(out)) return commandFailed('bench/gpu_kernels.ts', r)
    return kernelsOutcome(readJson<GpuKernelResult>(out))
  },
}

/** scripts/gpu/hf_baseline.py's JSON. */
export interface HfBaseline {
  transformers: string
  device_name: string
  parameters: number
  batch: number
  prompt_tokens: number
  new_tokens: number
  generate: { seconds: number; tokens: number; tokens_per_s: number }
  train: { seconds: number; tokens: number; tokens_per_s: number; loss: number; grad_norm: number }
  peak_memory_gib: number
}

/** bench/policy.ts's JSON (one row per batch size; gpu-check runs one). */
export interface PolicyBench {
  parameters: number
  rows: Record<string, number | string | null>[]
}

export const E2E_SHAPE = { batch: 64, prompt: 256, newTokens: 128 }

export function e2eOutcome(hf: HfBaseline, ours: PolicyBench): StepOutcome {
  const row = ours.rows[0] ?? {}
  const num = (v: unknown) => (typeof v === 'number' ? v : NaN)
  const hiexpGen = num(row['gen tok/s'])
  const hiexpTrain = num(row['train tok/s'])
  const problems: string[] = []
  const gradNorm = num(row['train grad norm'])
  if (!Number.isFinite(num(row['train loss'])) || !Number.isFinite(gradNorm) || row['train skipped'] === 'yes') {
    problems.push(`hiexp's bfloat16 training step is not finite (loss ${row['train loss']}, gradient norm ${row['train grad norm']}, skipped: ${row['train skipped']})`)
  }
  if (!Number.isFinite(hf.train.loss) || !Number.isFinite(hf.train.grad_norm)) {
    problems.push(`transformers' training step is not finite (loss ${hf.train.loss}, gradient norm ${hf.train.grad_norm})`)
  }
  if (!(hiexpGen > 0) || !(hiexpTrain > 0)) problems.push(`bench/policy.ts reported no throughput (${JSON.stringify(row)})`)
  if (ours.parameters !== hf.parameters) problems.push(`hiexp counts ${ours.parameters} parameters, transformers ${hf.parameters}: not the same model`)
  const genRatio = hiexpGen / hf.generate.tokens_per_s
  const trainRatio = hiexpTrain / hf.train.tokens_per_s
  const table: Table = {
    title: `Qwen2.5-0.5B-shaped random model (${(hf.parameters / 1e6).toFixed(0)}M parameters), bfloat16, batch ${hf.batch}, prompt ${hf.prompt_tokens}, ${hf.new_tokens} new tokens, ${hf.device_name}`,
    header: ['', 'transformers ' + hf.transformers, 'hiexp', 'hiexp / transformers'],
    rows: [
      ['generate: new tokens/s (temperature 1, full vocabulary)', Math.round(hf.generate.tokens_per_s), Math.round(hiexpGen), `${genRatio.toFixed(2)}x`],
      ['generate: s per call', hf.generate.seconds, num(row['gen s/call']), ''],
      ['generate: tokens per call', hf.generate.tokens, num(row['gen tokens/call']), ''],
      ['RL training step: tokens/s (forward, backward, clip, AdamW)', Math.round(hf.train.tokens_per_s), Math.round(hiexpTrain), `${trainRatio.toFixed(2)}x`],
      ['RL training step: s per step', hf.train.seconds, num(row['train s/step']), ''],
    ],
  }
  const summary = `generate ${genRatio.toFixed(2)}x, train ${trainRatio.toFixed(2)}x transformers' tokens/s`
  return { status: problems.length ? 'fail' : 'pass', summary: problems[0] ?? summary, problems, tables: [table], data: { transformers: hf, hiexp: ours } }
}

export const e2eStep: Step = {
  name: 'e2e',
  title: 'generation and RL training step, Qwen2.5-0.5B shape, bf16, vs transformers',
  capS: 300,
  async run(ctx, timeoutMs) {
    const deadline = Date.now() + timeoutMs
    const model = join(ctx.work, 'qwen2.5-0.5b-random')
    const hfOut = join(ctx.work, 'hf_baseline.json')
    const { batch, prompt, newTokens } = E2E_SHAPE
    const shape = ['--batch', String(batch), '--prompt', String(prompt), '--new', String(newTokens)]
    const r1 = await run(ctx, ctx.options.python, [join(ctx.root, 'scripts', 'gpu', 'hf_baseline.py'), '--model-dir', model, '--out', hfOut, ...shape], timeoutMs)
    if (failureOf('hf_baseline.py', r1) || !existsSync(hfOut)) return commandFailed('scripts/gpu/hf_baseline.py (transformers baseline)', r1)
    const ourOut = join(ctx.work, 'hiexp_policy.json')
    const args = [join(ctx.root, 'bench', 'policy.ts'), '--load', model, '--device', 'cuda', '--dtype', 'bfloat16', '--batches', String(batch),
      '--prompt-tokens', String(prompt), '--new-tokens', String(newTokens), '--reps', '1', '--out', ourOut]
    const r2 = await run(ctx, tsx(ctx), args, Math.max(5_000, deadline - Date.now()))
    if (failureOf('bench/policy.ts', r2) || !existsSync(ourOut)) return commandFailed('bench/policy.ts (hiexp)', r2)
    return e2eOutcome(readJson<HfBaseline>(hfOut), readJson<PolicyBench>(ourOut))
  },
}

export const STEPS: Step[] = [buildStep, cudaTestsStep, parityStep, kernelsStep, e2eStep]
