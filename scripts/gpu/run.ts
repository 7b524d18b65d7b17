// One child process of gpu-check: its output goes to the log as it comes and is kept for parsing; a time-out kills
// its whole process group (ava's workers, python's node children), so that no step outlives the budget.
import { spawn } from 'node:child_process'

export interface CommandResult {
  /** Exit code; null when killed or when the program could not be started. */
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  /** Set when the program could not be started (ENOENT, EACCES). */
  startError?: string
  stdout: string
  stderr: string
  seconds: number
}

export interface RunOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  timeoutMs: number
  /** Receives stdout and stderr as they arrive. */
  log: (text: string) => void
}

export function runCommand(command: string, args: string[], o: RunOptions): Promise<CommandResult> {
  const t0 = performance.now()
  return new Promise((resolveResult) => {
    let stdout = ''
    let stderr = ''
    let timedOut = false
    let startError: string | undefined
    const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        /* already gone */
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      o.log(`\n[gpu-check] ${command} ran past its ${Math.round(o.timeoutMs / 1000)} s and was killed\n`)
      killGroup()
    }, o.timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      o.log(d)
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
      o.log(d)
    })
    child.on('error', (error) => {
      startError = `${command} could not be started: ${error.message}`
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      // A step's leftovers (a hung NCCL watchdog thread's process, say) must not keep running past it.
      if (code === null || timedOut) killGroup()
      resolveResult({ code, signal, timedOut, startError, stdout, stderr, seconds: (performance.now() - t0) / 1000 })
    })
  })
}

/** The last lines of a command's output, for a failure's summary. */
export function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

/** Why a command failed, in one line; undefined when it exited 0. */
export function failureOf(name: string, r: CommandResult): string | undefined {
  if (r.startError) return r.startError
  if (r.timedOut) return `${name} ran past its time-out (${r.seconds.toFixed(0)} s)`
  if (r.signal) return `${name} was killed by ${r.signal}`
  if (r.code !== 0) return `${name} exited with code ${r.code}`
  return undefined
}
