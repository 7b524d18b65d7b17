// Command line of scripts/gpu-check.sh: parsed and checked here, so that a bad argument is named before anything runs.
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { cpus } from 'node:os'
import { resolve } from 'node:path'

/** The checks, in the order they run (issue 14's points 1 to 5; point 6 is the report). */
export const STEP_NAMES = ['build', 'cuda-tests', 'parity', 'kernels', 'e2e'] as const
export type StepName = (typeof STEP_NAMES)[number]

export interface GpuCheckOptions {
  /** Folder for gpu-check.json, gpu-check.md and gpu-check.log (created). */
  outDir: string
  /** The Python that holds PyTorch (CUDA) and transformers. */
  python: string
  /** Where the CUDA build of the addon goes (its own folder: build/Release/hiexp.node is left alone). */
  buildDir: string
  /** Wall-clock budget for everything, in seconds; each step's time-out is cut to what is left. */
  budgetS: number
  /** Compiler jobs for the build. */
  jobs: number
  /** The steps to run (all by default); without 'build', buildDir must already hold the addon. */
  steps: StepName[]
}

/** A bad command line (exitCode 2), or --help (exitCode 0, the message is the help text). */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode: 0 | 2 = 2) {
    super(message)
  }
}

function positiveNumber(name: string) {
  return (value: string) => {
    const n = Number(value)
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number of seconds, got '${value}'`)
    return n
  }
}

function positiveInt(name: string) {
  return (value: string) => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${value}'`)
    return n
  }
}

function stepList(value: string): StepName[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = names.filter((n) => !(STEP_NAMES as readonly string[]).includes(n))
  if (names.length === 0 || unknown.length) {
    throw new InvalidArgumentError(`--only takes a comma-separated list of ${STEP_NAMES.join(', ')}; got '${value}'`)
  }
  // Always in the canonical order, whatever order they were given in.
  return STEP_NAMES.filter((n) => names.includes(n))
}

export interface ParseContext {
  env?: NodeJS.ProcessEnv
  /** Where the user ran the command: relative paths they give are taken from here. */
  cwd?: string
  /** The repository root: the default build folder is under it. */
  root?: string
}

/**
 * Parses argv (without node and the script). Throws UsageError with commander's message (which names the argument)
 * on bad input, and for --help.
 */
export function parseGpuCheckArgs(argv: string[], { env = process.env, cwd = process.cwd(), root = cwd }: ParseContext = {}): GpuCheckOptions {
  let output = ''
  const program = new Command('scripts/gpu-check.sh')
    .description('Build the CUDA addon against this machine\'s PyTorch and check it on the GPU (docs/gpu-check.md).')
    .argument('<out-dir>', 'folder for gpu-check.json, gpu-check.md and gpu-check.log')
    .option('--python <exe>', 'the Python holding PyTorch (CUDA) and transformers', env.PYTHON ?? 'python3')
    .option('--build-dir <dir>', 'build folder of the CUDA addon', 'build/gpu-check')
    .option('--budget <seconds>', 'wall-clock budget for all steps', positiveNumber('--budget'), 480)
    .option('--jobs <n>', 'compiler jobs', positiveInt('--jobs'), Math.max(1, cpus().length))
    .option('--only <steps>', `run only these steps (${STEP_NAMES.join(',')})`, stepList, [...STEP_NAMES])
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output += s), writeErr: (s) => (output += s) })
    .allowExcessArguments(false)
  try {
    program.parse(argv, { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) throw new UsageError(output.trim(), 0)
      throw new UsageError(error.message.replace(/^error: /, ''))
    }
    throw error
  }
  const o = program.opts<{ python: string; buildDir: string; budget: number; jobs: number; only: StepName[] }>()
  return {
    outDir: resolve(cwd, program.args[0]),
    python: o.python,
    buildDir: resolve(program.getOptionValueSource('buildDir') === 'default' ? root : cwd, o.buildDir),
    budgetS: o.budget,
    jobs: o.jobs,
    steps: o.only,
  }
}
