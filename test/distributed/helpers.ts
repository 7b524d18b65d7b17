// Shared by the dist tests: running worker ranks with a hard time-out, and reading float32 safetensors.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { launch, type LaunchResult } from '../../lib/distributed/index.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const WORKER = join(ROOT, 'test', 'distributed', 'fixtures', 'train_worker.ts')
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx')

/** One libtorch thread per rank: the ranks share this machine's few cores. */
export const RANK_ENV = { HIEXP_THREADS: '1', OMP_NUM_THREADS: '1' }

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hiexp-dist-'))
}

/** Runs the worker as `nproc` ranks through launch(), killed after hardMs whatever happens. */
export async function launchWorker(nproc: number, cfg: object, hardMs: number, timeoutMs = 20_000) {
  const out = new PassThrough()
  let text = ''
  out.on('data', (d) => (text += d))
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), hardMs)
  try {
    const result: LaunchResult = await launch(
      { nproc, timeoutMs, env: RANK_ENV, stdout: out, stderr: out, killGraceMs: 1000, signal: abort.signal },
      [TSX, WORKER, JSON.stringify(cfg)],
    )
    return { ...result, output: text }
  } finally {
    clearTimeout(timer)
  }
}

export interface RankRun {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
  ms: number
}

/** Starts one worker rank directly (no launcher, so that nobody stops the others when it dies). */
export function spawnRank(rank: number, worldSize: number, port: number, cfg: object, hardMs: number, timeoutMs: number) {
  const t0 = Date.now()
  const child = spawn(TSX, [WORKER, JSON.stringify(cfg)], {
    env: {
      ...process.env,
      ...RANK_ENV,
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(rank),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      HIEXP_DIST_TIMEOUT_MS: String(timeoutMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
  const timer = setTimeout(kill, hardMs)
  const done = new Promise<RankRun>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output, ms: Date.now() - t0 })
    })
  })
  return { child, done, kill }
}

/** The float32 tensors of a safetensors file, by name. */
export function readF32Safetensors(path: string): Map<string, Float32Array> {
  const buf = readFileSync(path)
  const n = Number(buf.readBigUInt64LE(0))
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >
  const out = new Map<string, Float32Array>()
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue
    if (e.dtype !== 'F32') throw new Error(`${name}: expected F32, got ${e.dtype}`)
    const [a, b] = e.data_offsets
    const bytes = buf.subarray(8 + n + a, 8 + n + b)
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)))
  }
  return out
}

/** Largest |a - b| over all tensors (Infinity when the names or shapes differ), and the largest |a - initial|. */
export function weightDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  if (a.size !== b.size) return Infinity
  let m = 0
  for (const [name, x] of a) {
    const y = b.get(name)
    if (!y || y.length !== x.length) return Infinity
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]))
  }
  return m
}
