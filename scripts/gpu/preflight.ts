// Before anything is built: is there a GPU that PyTorch sees, a CUDA compiler, NCCL's headers, transformers? Every
// missing piece becomes one sentence saying what is missing and how to supply it; without a GPU nothing runs.
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { StepName } from './args.js'
import { failureOf, runCommand } from './run.js'

/** What scripts/gpu/probe.py prints. */
export interface PythonProbe {
  python: string
  python_version: string
  torch?: string
  torch_error?: string
  /** CUDA version PyTorch was built with; null for a CPU-only build. */
  torch_cuda?: string | null
  cmake_prefix_path?: string
  cuda_available?: boolean
  device_count?: number
  device_name?: string
  /** Compute capability without the dot ('90' for an H100/H200). */
  capability?: string
  memory_gib?: number
  transformers?: string
  transformers_error?: string
  nccl_include?: string | null
}

export interface MachineFacts {
  /** The probe's JSON, or why it could not be had. */
  probe?: PythonProbe
  probeError?: string
  nvcc?: string
  cmake?: string
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** A program on PATH (or undefined). */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name)
  }
  return undefined
}

/** The CUDA compiler CMake should use: CUDACXX, then nvcc on PATH, then the toolkit's usual place. */
export function findNvcc(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CUDACXX) return executable(env.CUDACXX) ? env.CUDACXX : undefined
  return which('nvcc', env) ?? ['/usr/local/cuda/bin/nvcc'].find(executable)
}

export async function gatherFacts(python: string, root: string, log: (s: string) => void): Promise<MachineFacts> {
  const facts: MachineFacts = { nvcc: findNvcc(), cmake: which('cmake') }
  const r = await runCommand(python, [join(root, 'scripts', 'gpu', 'probe.py')], { cwd: root, timeoutMs: 120_000, log: () => {} })
  const failure = failureOf(`${python} scripts/gpu/probe.py`, r)
  if (failure) {
    facts.probeError = `${failure}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}`
  } else {
    try {
      facts.probe = JSON.parse(r.stdout.trim().split('\n').slice(-1)[0]) as PythonProbe
    } catch {
      facts.probeError = `${python} scripts/gpu/probe.py printed no JSON: ${r.stdout.slice(0, 200)}`
    }
  }
  log(`[gpu-check] machine: ${JSON.stringify(facts)}\n`)
  return facts
}

/**
 * Everything that stops the check, each as one sentence; empty when it can run. The GPU comes first: without one the
 * check cannot pass whatever else is there.
 */
export function preflightProblems(f: MachineFacts, steps: readonly StepName[], python = f.probe?.python ?? 'python3'): string[] {
  const problems: string[] = []
  const p = f.probe
  if (!p) {
    problems.push(`no NVIDIA GPU can be checked: ${f.probeError ?? 'the Python probe gave nothing'} (pass --python or set PYTHON to the Python that holds PyTorch with CUDA)`)
  } else if (p.torch_error) {
    problems.push(`no NVIDIA GPU can be checked: ${python} cannot import torch (${p.torch_error}); install PyTorch with CUDA there, or pass --python`)
  } else if (!p.torch_cuda) {
    problems.push(`no NVIDIA GPU can be checked: PyTorch ${p.torch} is a CPU-only build (torch.version.cuda is None)`)
  } else if (!p.cuda_available || !p.device_count) {
    problems.push(`no NVIDIA GPU: PyTorch ${p.torch} (CUDA ${p.torch_cuda}) sees none (torch.cuda.is_available() is False); this check needs one NVIDIA GPU and its driver`)
  }
  if (p && !p.torch_error && (steps.includes('parity') || steps.includes('e2e')) && p.transformers_error) {
    problems.push(`${python} cannot import transformers (${p.transformers_error}); the parity and end-to-end steps need it`)
  }
  if (steps.includes('build')) {
    if (!f.nvcc) problems.push('no CUDA compiler: put nvcc on PATH or set CUDACXX (also looked in /usr/local/cuda/bin)')
    if (!f.cmake) problems.push('cmake is not on PATH (cmake-js needs it to build the addon)')
    if (p && !p.torch_error && !p.nccl_include) {
      problems.push("nccl.h was not found in Python's nvidia packages (the nvidia-nccl-cu12/cu13 wheel): without it the addon has no NCCL backend")
    }
  }
  return problems
}
