// scripts/gpu-check.sh where no GPU is: its argument parsing, preflight, TAP reading, report writing and the parsing of
// each step's output are checked here against real outputs (ava's TAP, bench/gpu_kernels.ts and bench/policy.ts on
// the CPU); the whole script must refuse, loudly, to pass without a GPU. The parts that need PyTorch and
// transformers are skipped, visibly, where python3 cannot import them.
import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as hx from '../../lib/index.js'
import type { GpuKernelResult } from '../../bench/gpu_kernels.js'
import { parseGpuCheckArgs, STEP_NAMES, UsageError } from '../../scripts/gpu/args.js'
import { runGpuCheck } from '../../scripts/gpu/check.js'
import { findNvcc, preflightProblems, type MachineFacts, type PythonProbe } from '../../scripts/gpu/preflight.js'
import { formatNumber, markdownReport, markdownTable, summaryLine, verdict, writeReport, type GpuCheckReport, type StepResult } from '../../scripts/gpu/report.js'
import { CUDA_TEST_RUNS, addonProblems, cmakeJsArgs, e2eOutcome, kernelsOutcome, parityOutcome, type HfBaseline, type ParityResult, type PolicyBench } from '../../scripts/gpu/steps.js'
import { parseTap, requireRun } from '../../scripts/gpu/tap.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx')
const tempDir = () => mkdtempSync(join(tmpdir(), 'hiexp-gpu-check-test-'))

const hasPython = spawnSync('python3', ['--version'], { encoding: 'utf8' }).status === 0
const hasTorch = hasPython && spawnSync('python3', ['-c', 'import torch, transformers'], { encoding: 'utf8' }).status === 0
if (!hasPython) console.log('gpu_check: no python3 here, so the checks of the Python scripts are skipped')
if (!hasTorch) console.log('gpu_check: python3 cannot import torch and transformers here, so the CPU parity run of bench/hf_parity.py is skipped')
const pythonTest = hasPython ? test : test.skip
const torchTest = hasTorch ? test : test.skip

const GPU_PROBE: PythonProbe = {
  python: '/usr/bin/python3', python_version: '3.12.3', torch: '2.11.0+cu130', torch_cuda: '13.0', cmake_prefix_path: '/site/torch/share/cmake',
  cuda_available: true, device_count: 1, device_name: 'NVIDIA H200', capability: '90', memory_gib: 139.8, transformers: '5.17.0', nccl_include: '/site/nvidia/nccl/include',
}
const GPU_FACTS: MachineFacts = { probe: GPU_PROBE, nvcc: '/usr/local/cuda/bin/nvcc', cmake: '/usr/bin/cmake' }

/** Runs a command to its end (killed after hardMs), collecting its output. */
function runChild(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; hardMs?: number } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.hardMs ?? 120_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A stand-in for python3 that prints the probe JSON given (the script it is asked to run is ignored). */
function fakePython(dir: string, probe: object): string {
  const path = join(dir, 'fake-python3')
  writeFileSync(path, `#!/bin/sh\ncat <<'JSON'\n${JSON.stringify(probe)}\nJSON\n`)
  chmodSync(path, 0o755)
  return path
}

const lastLine = (text: string) => text.trimEnd().split('\n').slice(-1)[0]

// ---- arguments ----

test('arguments: the out-dir is the caller\'s, the default build folder the repository\'s, PYTHON picks the Python', (t) => {
  const o = parseGpuCheckArgs(['out'], { cwd: '/home/me', root: '/repo', env: { PYTHON: '/opt/torch/bin/python3' } })
  t.deepEqual(o, { outDir: '/home/me/out', python: '/opt/torch/bin/python3', buildDir: '/repo/build/gpu-check', budgetS: 480, jobs: o.jobs, steps: [...STEP_NAMES] })
  t.true(o.jobs >= 1)
  const p = parseGpuCheckArgs(['/abs/out', '--build-dir', 'b', '--budget', '300', '--jobs', '8', '--only', 'e2e,build', '--python', 'py'], { cwd: '/home/me', root: '/repo', env: {} })
  t.deepEqual(p, { outDir: '/abs/out', python: 'py', buildDir: '/home/me/b', budgetS: 300, jobs: 8, steps: ['build', 'e2e'] })
})

test('arguments: each bad one is named, with what was expected', (t) => {
  const bad = (argv: string[], message: RegExp) => {
    const e = t.throws(() => parseGpuCheckArgs(argv, { env: {} }), { instanceOf: UsageError, message })
    t.is(e?.exitCode, 2)
  }
  bad([], /missing required argument 'out-dir'/)
  bad(['out', '--budget', '0'], /--budget must be a positive number of seconds, got '0'/)
  bad(['out', '--budget', 'soon'], /--budget must be a positive number of seconds, got 'soon'/)
  bad(['out', '--jobs', '2.5'], /--jobs must be a positive integer, got '2.5'/)
  bad(['out', '--only', 'build,gpu'], /--only takes a comma-separated list of build, cuda-tests, parity, kernels, e2e; got 'build,gpu'/)
  bad(['out', 'extra'], /too many arguments/)
  bad(['out', '--fast'], /unknown option '--fast'/)
  const help = t.throws(() => parseGpuCheckArgs(['--help'], { env: {} }), { instanceOf: UsageError, message: /Usage: scripts\/gpu-check.sh \[options\] <out-dir>/ })
  t.is(help?.exitCode, 0)
})

// ---- preflight ----

test('preflight: a GPU machine with nvcc, cmake, NCCL\'s header and transformers has no problem', (t) => {
  t.deepEqual(preflightProblems(GPU_FACTS, STEP_NAMES), [])
})

test('preflight: without a GPU it says so first, in each of the ways a GPU can be missing', (t) => {
  const first = (facts: MachineFacts) => preflightProblems(facts, STEP_NAMES, 'python3')[0]
  t.regex(first({ ...GPU_FACTS, probe: undefined, probeError: 'python3 scripts/gpu/probe.py could not be started: spawn python3 ENOENT' }),
    /^no NVIDIA GPU can be checked: python3 scripts\/gpu\/probe.py could not be started: spawn python3 ENOENT \(pass --python or set PYTHON/)
  t.regex(first({ ...GPU_FACTS, probe: { python: 'python3', python_version: '3.11', torch_error: "ModuleNotFoundError: No module named 'torch'" } }),
    /^no NVIDIA GPU can be checked: python3 cannot import torch \(ModuleNotFoundError: No module named 'torch'\)/)
  t.regex(first({ ...GPU_FACTS, probe: { ...GPU_PROBE, torch: '2.5.1+cpu', torch_cuda: null, cuda_available: false, device_count: 0 } }),
    /^no NVIDIA GPU can be checked: PyTorch 2.5.1\+cpu is a CPU-only build/)
  t.regex(first({ ...GPU_FACTS, probe: { ...GPU_PROBE, cuda_available: false, device_count: 0 } }),
    /^no NVIDIA GPU: PyTorch 2.11.0\+cu130 \(CUDA 13.0\) sees none \(torch.cuda.is_available\(\) is False\)/)
})

test('preflight: the build needs nvcc, cmake and nccl.h; parity and e2e need transformers; other steps do not', (t) => {
  const facts: MachineFacts = { probe: { ...GPU_PROBE, nccl_include: null, transformers: undefined, transformers_error: 'ImportError: no' } }
  const all = preflightProblems(facts, STEP_NAMES)
  t.is(all.length, 4)
  t.regex(all[0], /cannot import transformers \(ImportError: no\); the parity and end-to-end steps need it/)
  t.regex(all[1], /no CUDA compiler: put nvcc on PATH or set CUDACXX/)
  t.regex(all[2], /cmake is not on PATH/)
  t.regex(all[3], /nccl.h was not found/)
  t.deepEqual(preflightProblems(facts, ['cuda-tests', 'kernels']), [])
})

test('findNvcc: CUDACXX wins when it is executable; otherwise nvcc is searched on PATH', (t) => {
  const dir = tempDir()
  const nvcc = join(dir, 'nvcc')
  writeFileSync(nvcc, '#!/bin/sh\n')
  t.is(findNvcc({ CUDACXX: join(dir, 'missing-nvcc'), PATH: dir }), undefined)
  chmodSync(nvcc, 0o755)
  t.is(findNvcc({ CUDACXX: nvcc, PATH: '' }), nvcc)
  t.is(findNvcc({ PATH: `/nonexistent:${dir}` }), nvcc)
})

test("build: cmake-js gets PyTorch's Torch_DIR, CUDA on for this GPU's architecture, and NCCL's header folder", (t) => {
  const args = cmakeJsArgs('/repo', { buildDir: '/repo/build/gpu-check', jobs: 16 }, GPU_FACTS)
  t.deepEqual(args, [
    '/repo/node_modules/cmake-js/bin/cmake-js', 'rebuild', '--directory', '/repo', '--out', '/repo/build/gpu-check', '--parallel', '16',
    '--CDTorch_DIR=/site/torch/share/cmake/Torch', '--CDHIEXP_CUDA=ON', '--CDCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc',
    '--CDCMAKE_CUDA_ARCHITECTURES=90', '--CDCMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES=/site/nvidia/nccl/include',
  ])
  t.throws(() => cmakeJsArgs('/repo', { buildDir: 'b', jobs: 1 }, { ...GPU_FACTS, probe: { ...GPU_PROBE, nccl_include: null } }), { message: /the build needs the probe's cmake_prefix_path, capability and nccl_include/ })
})

// ---- ava's TAP ----

test('TAP: passes, failures, skips, todos and missing required tests are each reported', (t) => {
  const tap = ['TAP version 13', 'ok 1 - a › the CUDA kernel matches', 'not ok 2 - a › the CUDA kernel names a NaN', '  ---', 'ok 3 - b › nccl: group # SKIP', 'ok 4 - c # TODO later', '1..4'].join('\n')
  const tests = parseTap(tap)
  t.deepEqual(tests.map((x) => [x.title, x.ok, x.skip, x.todo]), [
    ['a › the CUDA kernel matches', true, false, false],
    ['a › the CUDA kernel names a NaN', false, false, false],
    ['b › nccl: group', true, true, false],
    ['c', true, false, true],
  ])
  const v = requireRun(tests, [{ what: 'kernels', title: /CUDA kernel/, min: 2 }, { what: 'an NCCL group', title: /nccl/, min: 1 }, { what: 'absent', title: /gloo/, min: 1 }])
  t.false(v.ok)
  t.deepEqual([v.passed, v.skipped, v.failed], [1, 1, 1])
  t.deepEqual(v.problems, [
    'failed: a › the CUDA kernel names a NaN',
    'skipped (no GPU seen by this build?): b › nccl: group',
    'todo, not a real test: c',
    'absent: expected at least 1 test(s) matching /gloo/, found 0',
  ])
  t.true(requireRun(parseTap('ok 1 - the CUDA kernel x\nok 2 - the CUDA kernel y'), [{ what: 'k', title: /CUDA kernel/, min: 2 }]).ok)
  t.deepEqual(requireRun([], []).problems, ['ava reported no tests at all'])
})

test('the CUDA test files gpu-check runs exist and hold the tests it requires', (t) => {
  for (const run of CUDA_TEST_RUNS) {
    const source = readFileSync(join(ROOT, run.file), 'utf8')
    const titles = [...source.matchAll(/^\w+\(\s*'([^']+)'/gm)].map((m) => m[1])
    t.true(titles.filter((x) => run.required.title.test(x)).length >= run.required.min, `${run.file}: ${titles.join(' | ')}`)
  }
})

test("TAP: ava's real output for the CUDA policy-loss tests is read as this build's devices say", async (t) => {
  const cuda = hx.info().devices.includes('cuda:0')
  const run = CUDA_TEST_RUNS[0]
  const r = await runChild(join(ROOT, 'node_modules', '.bin', 'ava'), ['--tap', run.file])
  t.is(r.code, 0, r.stderr)
  const v = requireRun(parseTap(r.stdout), [run.required])
  t.true(v.passed >= 1)
  if (cuda) {
    t.true(v.ok, v.problems.join('\n'))
  } else {
    // Here the GPU tests skip themselves: gpu-check must count that as a failure.
    t.false(v.ok)
    t.is(v.skipped, 2)
    t.regex(v.problems[0], /^skipped \(no GPU seen by this build\?\): the CUDA kernel matches the CPU kernel/)
  }
})

// ---- report ----

function fakeReport(steps: StepResult[], preflight: string[] = []): GpuCheckReport {
  return {
    tool: 'hiexp gpu-check', hiexp: '0.1.0', date: '2026-12-01T00:00:00.000Z', ok: verdict(preflight, steps), budgetS: 480, seconds: 301.4,
    machine: { hostname: 'h', node: 'v20', gpu: 'NVIDIA H200', capability: '90', memoryGiB: 139.8, torch: '2.11.0', torchCuda: '13.0', transformers: '5.17.0', nvcc: '13.0' },
    preflight, steps,
  }
}
const step = (name: StepResult['name'], status: StepResult['status'], summary: string, problems: string[] = []): StepResult => ({ name, title: `${name} title`, status, seconds: 12.4, summary, problems })

test('report: verdict needs every step run to pass, none failed, at least one run, and no preflight problem', (t) => {
  t.true(verdict([], [step('build', 'pass', 'ok'), step('e2e', 'pass', 'ok')]))
  t.false(verdict([], [step('build', 'pass', 'ok'), step('e2e', 'fail', 'x')]))
  t.false(verdict([], [step('build', 'not run', '')]))
  t.false(verdict([], []))
  t.false(verdict(['no GPU'], [step('build', 'pass', 'ok')]))
})

test('report: Markdown tables escape pipes and line breaks, format numbers, and refuse a ragged row', (t) => {
  t.is(markdownTable({ title: 'x', header: ['a', 'b|c'], rows: [['x\ny', 1.23456e-7], [12, 0.5]] }), '| a | b\\|c |\n|---|---|\n| x y | 1.23e-7 |\n| 12 | 0.500 |')
  t.throws(() => markdownTable({ title: 'x', header: ['a', 'b'], rows: [['only one']] }), { instanceOf: RangeError, message: "table 'x': a row has 1 cells, the header 2" })
  t.deepEqual([formatNumber(3), formatNumber(0.012345), formatNumber(2e-6), formatNumber(NaN), formatNumber(1234567.5)], ['3', '0.0123', '2.00e-6', 'NaN', '1.23e+6'])
})

test('report: the summary line gives the verdict, the failed steps with the first problem, and the report path', (t) => {
  const pass = fakeReport([step('build', 'pass', 'built in 90 s'), step('e2e', 'pass', 'generate 1.50x, train 0.90x')])
  t.is(summaryLine(pass, '/o'), 'gpu-check: PASS, 2/2 steps on NVIDIA H200 in 301 s: build built in 90 s; e2e generate 1.50x, train 0.90x; report /o/gpu-check.md')
  const fail = fakeReport([step('build', 'pass', 'ok'), step('parity', 'fail', 'bf16 off', ['transformers -> hiexp, tied head, bfloat16: too far']), step('e2e', 'not run', 'not run')])
  t.is(summaryLine(fail, '/o'), 'gpu-check: FAIL on NVIDIA H200: parity failed, e2e not run; parity: transformers -> hiexp, tied head, bfloat16: too far; report /o/gpu-check.md')
  const none = fakeReport([step('build', 'not run', 'not run')], ['no NVIDIA GPU: none seen'])
  t.is(summaryLine(none, '/o'), 'gpu-check: FAIL, nothing run: no NVIDIA GPU: none seen; report /o/gpu-check.md')
})

test('report: writeReport writes the JSON (read back equal) and the Markdown with every step and table', (t) => {
  const dir = tempDir()
  const withTable = { ...step('kernels', 'pass', 'fused 3x'), tables: [{ title: 'Policy loss', header: ['loss', 'ms'], rows: [['grpo', 0.25]] }] }
  const r = fakeReport([step('build', 'pass', 'built'), withTable, step('parity', 'fail', 'off', ['float32: 2e-3 > 1e-4'])])
  const files = writeReport(r, join(dir, 'nested'))
  t.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), r)
  const md = readFileSync(files.markdown, 'utf8')
  t.is(md, markdownReport(r))
  t.true(md.startsWith('# hiexp GPU check: FAIL\n'))
  t.regex(md, /NVIDIA H200 \(sm_90, 139.8 GiB\), PyTorch 2.11.0 \(CUDA 13.0\), transformers 5.17.0, nvcc 13.0/)
  t.regex(md, /\| parity \| parity title \| \*\*FAIL\*\* \| 12 \| off \|/)
  t.regex(md, /## kernels: kernels title\n\nPolicy loss\n\n\| loss \| ms \|\n\|---\|---\|\n\| grpo \| 0.250 \|/)
  t.regex(md, /## parity: parity title\n\n- float32: 2e-3 > 1e-4/)
})

// ---- the steps' readers, on synthetic and on real outputs ----

test('addon check: a build without CUDA, cuda:0, NCCL or with another libtorch is refused, each named', (t) => {
  const good = { version: '0.1.0', torchVersion: '2.11.0', cudaCompiled: true, devices: ['cpu', 'cuda:0'], threads: 16, distBackends: { gloo: true, nccl: true } }
  t.deepEqual(addonProblems(good, '2.11.0+cu130'), [])
  t.deepEqual(addonProblems({ ...good, torchVersion: '1.13.0', cudaCompiled: false, devices: ['cpu'], distBackends: { gloo: true, nccl: false } }, '2.11.0+cu130'), [
    'the addon was built without its CUDA kernels (info().cudaCompiled is false)',
    'the addon sees no cuda:0 (devices: cpu)',
    'the addon has no NCCL backend (nccl.h was not on the include path when it was built)',
    "the addon links libtorch 1.13.0, but this machine's PyTorch is 2.11.0+cu130",
  ])
})

test('parity reader: a bf16 case out of tolerance fails the step, names the case, and keeps the script\'s note', (t) => {
  const row = { direction: 'transformers -> hiexp', tied: true, device: 'cuda', dtype: 'float32', max_abs_diff: 2e-6, hiexp_err_vs_f64: 1e-6, transformers_err_vs_f64: 1e-6, tolerance: '|hiexp - transformers| < 0.0001', pass: true }
  const ok: ParityResult = { transformers: '5.17.0', torch: '2.11.0', pass: true, notes: [], results: [row, { ...row, dtype: 'bfloat16', max_abs_diff: 0.01, tolerance: 'bound', pass: true }] }
  const good = parityOutcome(ok)
  t.is(good.status, 'pass')
  t.is(good.summary, 'float32 max |diff| 2.00e-6, bfloat16 max |diff| 0.0100')
  const bad = parityOutcome({ ...ok, pass: false, notes: ['rope note'], results: [row, { ...row, dtype: 'bfloat16', tied: false, hiexp_err_vs_f64: 0.2, tolerance: 'hiexp err <= 0.03', pass: false }] })
  t.is(bad.status, 'fail')
  t.deepEqual(bad.problems, ['transformers -> hiexp, untied head, bfloat16: max |diff| 2.00e-6, hiexp vs float64 0.200; needs hiexp err <= 0.03', 'rope note'])
  t.is(bad.tables![0].rows.length, 2)
  t.is(parityOutcome({ ...ok, results: [] }).status, 'fail')
})

test('e2e reader: the ratios are hiexp\'s tokens/s over transformers\'; a non-finite bf16 step or another model fails', (t) => {
  const hf: HfBaseline = {
    transformers: '5.17.0', device_name: 'NVIDIA H200', parameters: 494032768, batch: 64, prompt_tokens: 256, new_tokens: 128,
    generate: { seconds: 8.192, tokens: 8192, tokens_per_s: 1000 }, train: { seconds: 2, tokens: 24576, tokens_per_s: 12288, loss: 0.01, grad_norm: 3 }, peak_memory_gib: 60,
  }
  const ours: PolicyBench = { parameters: 494032768, rows: [{ batch: 64, 'gen tok/s': 1500, 'gen s/call': 5.46, 'gen tokens/call': 8192, 'train tok/s': 6144, 'train s/step': 4, 'train loss': 0, 'train grad norm': 2.5, 'train skipped': 'no' }] }
  const good = e2eOutcome(hf, ours)
  t.is(good.status, 'pass')
  t.is(good.summary, "generate 1.50x, train 0.50x transformers' tokens/s")
  t.deepEqual(good.tables![0].rows.map((r) => r[3]), ['1.50x', '', '', '0.50x', ''])
  const nan = e2eOutcome(hf, { ...ours, rows: [{ ...ours.rows[0], 'train grad norm': null, 'train skipped': 'yes' }] })
  t.is(nan.status, 'fail')
  t.regex(nan.problems[0], /hiexp's bfloat16 training step is not finite \(loss 0, gradient norm null, skipped: yes\)/)
  t.regex(e2eOutcome(hf, { ...ours, parameters: 1 }).problems[0], /hiexp counts 1 parameters, transformers 494032768: not the same model/)
})

test('bench/gpu_kernels.ts on the CPU: every row agrees with the CPU kernel and the kernels reader passes it', async (t) => {
  const out = join(tempDir(), 'k.json')
  const r = await runChild(TSX, [join(ROOT, 'bench', 'gpu_kernels.ts'), '--device', 'cpu', '--shapes', '3x17,8x64', '--time-ms', '10', '--out', out])
  t.is(r.code, 0, r.stderr)
  const k = JSON.parse(readFileSync(out, 'utf8')) as GpuKernelResult
  t.true(k.pass)
  t.deepEqual(k.rows.map((x) => `${x.algorithm} ${x.shape}`), ['grpo 3x17', 'grpo 8x64', 'gspo 3x17', 'gspo 8x64'])
  for (const row of k.rows) {
    t.true(row.agrees)
    t.is(row.fusedMaxGradDiff, 0) // on the CPU the fused autograd function calls the very CPU kernel
    t.true(row.opsMaxGradDiff < 1e-6)
    t.true(row.fusedMs > 0 && row.torchOpsMs > 0 && row.cpuMs > 0)
  }
  const outcome = kernelsOutcome(k)
  t.is(outcome.status, 'pass')
  t.is(outcome.tables![0].rows.length, 4)
  const bad = await runChild(TSX, [join(ROOT, 'bench', 'gpu_kernels.ts'), '--device', 'cpu', '--shapes', '3by17'])
  t.not(bad.code, 0)
  t.regex(bad.stderr, /--shapes: '3by17' is not BxT \(for example 64x1024\)/)
})

test('bench/policy.ts --load: its JSON has the fields the e2e reader takes, with finite numbers', async (t) => {
  const dir = tempDir()
  const tokenizer = hx.Tokenizer.wordLevel(['alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'])
  const policy = await hx.Policy.create(hx.tinyConfig(tokenizer.vocabSize, { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1 }), tokenizer, { seed: 3 })
  await policy.save(join(dir, 'model'))
  const out = join(dir, 'policy.json')
  const r = await runChild(TSX, [join(ROOT, 'bench', 'policy.ts'), '--load', join(dir, 'model'), '--batches', '2', '--prompt-tokens', '6', '--new-tokens', '3', '--reps', '1', '--out', out])
  t.is(r.code, 0, r.stderr)
  const ours = JSON.parse(readFileSync(out, 'utf8')) as PolicyBench & { model: string; promptTokens: number; newTokens: number }
  t.is(ours.model, `loaded from ${join(dir, 'model')}`)
  t.is(ours.parameters, policy.parameterCount)
  t.deepEqual([ours.promptTokens, ours.newTokens], [6, 3])
  const row = ours.rows[0]
  t.true((row['gen tokens/call'] as number) >= 2 && (row['gen tokens/call'] as number) <= 6) // a row may stop at EOS
  t.true(Number.isFinite(row['train grad norm']) && (row['train grad norm'] as number) > 0)
  t.is(row['train skipped'], 'no')
  const hf: HfBaseline = {
    transformers: 'x', device_name: 'cpu', parameters: ours.parameters, batch: 2, prompt_tokens: 6, new_tokens: 3,
    generate: { seconds: 1, tokens: 6, tokens_per_s: 6 }, train: { seconds: 1, tokens: 18, tokens_per_s: 18, loss: 0, grad_norm: 1 }, peak_memory_gib: 0,
  }
  const outcome = e2eOutcome(hf, ours)
  t.is(outcome.status, 'pass', outcome.problems.join('; '))
  t.is(outcome.summary, `generate ${((row['gen tok/s'] as number) / 6).toFixed(2)}x, train ${((row['train tok/s'] as number) / 18).toFixed(2)}x transformers' tokens/s`)
})

// ---- the whole script, where no GPU is ----

test('scripts/gpu-check.sh without a GPU: exit 2, the reason on stderr and in the last line, a report that says nothing ran', async (t) => {
  const dir = tempDir()
  const python = fakePython(dir, { ...GPU_PROBE, cuda_available: false, device_count: 0, device_name: undefined, capability: undefined })
  const r = await runChild(join(ROOT, 'scripts', 'gpu-check.sh'), ['out', '--python', python], { cwd: dir })
  t.is(r.code, 2, r.stdout + r.stderr)
  const why = 'no NVIDIA GPU: PyTorch 2.11.0+cu130 (CUDA 13.0) sees none (torch.cuda.is_available() is False); this check needs one NVIDIA GPU and its driver'
  t.true(r.stderr.includes(`gpu-check: ${why}`))
  t.is(lastLine(r.stdout), `gpu-check: FAIL, nothing run: ${why}; report ${join(dir, 'out', 'gpu-check.md')}`)
  const report = JSON.parse(readFileSync(join(dir, 'out', 'gpu-check.json'), 'utf8')) as GpuCheckReport
  t.false(report.ok)
  t.deepEqual(report.preflight, [why])
  t.deepEqual(report.steps.map((s) => [s.name, s.status]), STEP_NAMES.map((n) => [n, 'not run']))
  t.regex(readFileSync(join(dir, 'out', 'gpu-check.md'), 'utf8'), /^# hiexp GPU check: FAIL\n[\s\S]*Not run, because:\n\n- no NVIDIA GPU: PyTorch/)
  t.true(existsSync(join(dir, 'out', 'gpu-check.log')))
})

test('scripts/gpu-check.sh: bad arguments and a Python that is not there end in exit 2 and a summary line naming them', async (t) => {
  const usage = await runChild(join(ROOT, 'scripts', 'gpu-check.sh'), [])
  t.is(usage.code, 2)
  t.regex(usage.stderr, /gpu-check: missing required argument 'out-dir'\nusage: scripts\/gpu-check.sh <out-dir>/)
  t.is(lastLine(usage.stdout), "gpu-check: FAIL, nothing run: missing required argument 'out-dir'")
  const dir = tempDir()
  const run = await runGpuCheck(
    { outDir: join(dir, 'out'), python: join(dir, 'no-such-python'), buildDir: join(dir, 'build'), budgetS: 60, jobs: 1, steps: ['parity'] },
    ROOT,
    { print: () => {}, warn: () => {} },
  )
  t.is(run.exitCode, 2)
  t.regex(run.report.preflight[0], /^no NVIDIA GPU can be checked: \S*no-such-python could not be started: spawn \S*no-such-python ENOENT \(pass --python or set PYTHON/)
  t.deepEqual(run.report.steps.map((s) => s.name), ['parity'])
})

// ---- the Python parts ----

pythonTest('the Python scripts parse (python3 -c ast.parse): hf_parity.py, hf_baseline.py, probe.py', (t) => {
  const files = ['bench/hf_parity.py', 'scripts/gpu/hf_baseline.py', 'scripts/gpu/probe.py'].map((f) => join(ROOT, f))
  const r = spawnSync('python3', ['-c', 'import ast, sys\nfor p in sys.argv[1:]: ast.parse(open(p).read(), p)', ...files], { encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
})

pythonTest('probe.py reports what it cannot import instead of failing', (t) => {
  const r = spawnSync('python3', [join(ROOT, 'scripts', 'gpu', 'probe.py')], { encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const probe = JSON.parse(r.stdout) as PythonProbe
  t.regex(probe.python_version, /^3\./)
  t.is(probe.torch === undefined, probe.torch_error !== undefined)
  t.is(probe.transformers === undefined, probe.transformers_error !== undefined)
})

torchTest('bench/hf_parity.py on the CPU, float32: both directions within 1e-4, and close to the float64 forward', async (t) => {
  const out = join(tempDir(), 'parity.json')
  const r = await runChild('python3', [join(ROOT, 'bench', 'hf_parity.py'), '--device', 'cpu', '--dtypes', 'float32', '--out', out], { hardMs: 240_000 })
  t.is(r.code, 0, r.stdout + r.stderr)
  const p = JSON.parse(readFileSync(out, 'utf8')) as ParityResult
  t.true(p.pass)
  t.is(p.results.length, 4)
  for (const row of p.results) {
    t.true(row.max_abs_diff < 1e-4)
    t.true(row.hiexp_err_vs_f64 < 1e-4)
  }
  t.is(parityOutcome(p).status, 'pass')
})
