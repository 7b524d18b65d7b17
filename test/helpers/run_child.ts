// Runs a TypeScript snippet in a fresh Node.js process (with tsx, and the same HIEXP_ADDON), so that a test of hostile
// input survives a segfault or an abort: the test sees the exit status and the output instead of dying with the runner.
import { execFile, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The repository root, for imports inside snippets: `import { linkage } from '${REPO}/lib/index.js'`. */
export const REPO = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..')).href

export interface ChildResult {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs `code` (an ES module, top-level await allowed) and returns how the process ended. */
export function runChild(code: string, timeoutMs = 120_000): ChildResult {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-child-'))
  try {
    const file = join(dir, 'probe.mts')
    writeFileSync(file, code)
    const root = fileURLToPath(REPO)
    const r = spawnSync(process.execPath, ['--import=tsx', file], { cwd: root, encoding: 'utf8', timeout: timeoutMs, env: process.env })
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** One line for a failed assertion: how the child ended and the tail of what it printed. */
export function describeChild(r: ChildResult): string {
  return `exit ${r.status} signal ${r.signal}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`
}

/** A snippet defining `failure(f)`: runs f (or awaits a promise) and returns 'no error' or 'ErrorClass: message'. */
export const FAILURE_HELPER = `const failure = async (f: Promise<unknown> | (() => unknown)) => {
  try { await (typeof f === 'function' ? f() : f); return 'no error' } catch (e) { return (e as Error).constructor.name + ': ' + (e as Error).message }
}`

/** Runs `code` in a child that must exit 0 and print a JSON object on its last stdout line; returns that object. */
export function probeChild(t: { is: (a: unknown, b: unknown, message?: string) => void }, code: string): Record<string, string> {
  const r = runChild(code)
  t.is(r.status, 0, describeChild(r))
  const lines = r.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as Record<string, string>
}

/** tsx's loader by its resolved URL, so that a child started in any folder (an empty temporary one) finds it. */
const TSX = import.meta.resolve('tsx')

export interface ScriptResult {
  /** The exit code; null when a signal ended it. */
  code: number | null
  signal: NodeJS.Signals | null
  /** stdout, then stderr. */
  output: string
}

/** Runs a TypeScript file with tsx in a child process, without blocking (tests run side by side), and says how it ended. */
export function runScript(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ScriptResult> {
  const { cwd, env = process.env, timeoutMs = 240_000 } = options
  return new Promise((done) => {
    execFile(process.execPath, [`--import=${TSX}`, file, ...args], { cwd, env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
      done({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, output: `${stdout}\n${stderr}` })
    })
  })
}
