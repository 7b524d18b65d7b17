// Entry point of scripts/gpu-check.sh (which runs it from the repository root): parse, check, print the summary last.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseGpuCheckArgs, UsageError } from './args.js'
import { runGpuCheck } from './check.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

try {
  const options = parseGpuCheckArgs(process.argv.slice(2), { cwd: process.env.GPU_CHECK_CWD ?? process.cwd(), root })
  const run = await runGpuCheck(options, root, { print: (l) => console.log(l), warn: (l) => console.error(l) })
  console.log(run.summary)
  process.exitCode = run.exitCode
} catch (error) {
  if (error instanceof UsageError && error.exitCode === 0) {
    console.log(error.message)
  } else if (error instanceof UsageError) {
    console.error(`gpu-check: ${error.message}\nusage: scripts/gpu-check.sh <out-dir> [--python <exe>] [--build-dir <dir>] [--budget <s>] [--jobs <n>] [--only <steps>] (--help for more)`)
    console.log(`gpu-check: FAIL, nothing run: ${error.message}`)
    process.exitCode = 2
  } else {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    console.error(message)
    console.log(`gpu-check: FAIL, gpu-check itself failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 2
  }
}
