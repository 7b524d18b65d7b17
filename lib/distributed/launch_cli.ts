// `hiexp launch` arguments, torchrun-style: parsed here so that lib/cli.ts only forwards argv.
//   hiexp launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] [--timeout-ms T] -- <command…>
import { parseIntegerArg, type IntegerRange } from '../util/integer_args.js'
import { launch, type LaunchOptions } from './launch.js'

export const LAUNCH_USAGE =
  'usage: hiexp launch --nproc N [--nnodes M] [--node-rank R] [--master-addr ADDR] [--master-port PORT] ' +
  '[--timeout-ms MS] [--kill-grace-ms MS] -- <program> [args…]'

const RANGES: Partial<Record<keyof LaunchOptions, IntegerRange>> = {
  nproc: { min: 1, max: 1024 },
  nnodes: { min: 1 },
  nodeRank: { min: 0 },
  masterPort: { min: 1, max: 65535 },
  timeoutMs: { min: 1 },
  killGraceMs: { min: 0 },
}

const FLAGS: Record<string, keyof LaunchOptions> = {
  '--nproc': 'nproc',
  '--nproc-per-node': 'nproc',
  '--nnodes': 'nnodes',
  '--node-rank': 'nodeRank',
  '--master-addr': 'masterAddr',
  '--master-port': 'masterPort',
  '--timeout-ms': 'timeoutMs',
  '--kill-grace-ms': 'killGraceMs',
}

/** Splits `[flags…] -- command…` into launch options and the command; throws a RangeError naming a bad flag. */
export function parseLaunchArgs(argv: readonly string[]): { options: LaunchOptions; command: string[] } {
  const dash = argv.indexOf('--')
  const flags = dash >= 0 ? argv.slice(0, dash) : argv.slice()
  const command = dash >= 0 ? argv.slice(dash + 1) : []
  const options: Record<string, number | string> = {}
  for (let i = 0; i < flags.length; i++) {
    let name = flags[i]
    let raw: string | undefined
    const eq = name.indexOf('=')
    if (eq > 0) {
      raw = name.slice(eq + 1)
      name = name.slice(0, eq)
    } else {
      raw = flags[++i]
    }
    const key = FLAGS[name]
    if (!key) throw new RangeError(`hiexp launch: unknown option '${name}'\n${LAUNCH_USAGE}`)
    if (raw === undefined) throw new RangeError(`hiexp launch: ${name} needs a value\n${LAUNCH_USAGE}`)
    if (key === 'masterAddr') {
      options[key] = raw
    } else {
      if (options[key] !== undefined) throw new RangeError(`hiexp launch: ${name} is given twice`)
      options[key] = parseIntegerArg(raw, `hiexp launch: ${name}`, RANGES[key])
    }
  }
  if (options.nproc === undefined) throw new RangeError(`hiexp launch: --nproc is required\n${LAUNCH_USAGE}`)
  if (command.length === 0) throw new RangeError(`hiexp launch: no command after '--'\n${LAUNCH_USAGE}`)
  return { options: options as unknown as LaunchOptions, command }
}

/** Runs `hiexp launch <argv>` and returns the exit code for the CLI (the first failed rank's, or 0). */
export async function launchMain(argv: readonly string[]): Promise<number> {
  const { options, command } = parseLaunchArgs(argv)
  const r = await launch(options, command)
  return r.exitCode
}
