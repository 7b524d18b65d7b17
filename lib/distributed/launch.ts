// A launcher in torchrun's conventions: N processes on this node, each told its place by RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR and MASTER_PORT; their output forwarded line by line with a
// "[rank R]" prefix; the first rank that fails stops all the others (SIGTERM, then SIGKILL after a grace period).
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { Writable } from 'node:stream'
import { z } from 'zod'
import { DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT } from './env.js'

export interface LaunchOptions {
  /** Processes on this node (one per GPU for NCCL). */
  nproc: number
  /** Nodes in the job (default 1). Every node runs `launch` with the same nnodes, masterAddr and masterPort. */
  nnodes?: number
  /** This node's index, 0 … nnodes-1 (default 0); node 0 hosts rank 0 and the TCPStore. */
  nodeRank?: number
  /** Address of node 0 as the other nodes reach it (default 127.0.0.1, enough for one node). */
  masterAddr?: string
  /** TCPStore port on node 0 (default: a free port when nnodes = 1, else 29500). */
  masterPort?: number
  /** Sets HIEXP_DIST_TIMEOUT_MS for the ranks: their collective time-out. */
  timeoutMs?: number
  /** Extra environment for the ranks (on top of this process's). */
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Where the ranks' prefixed stdout / stderr go (default: this process's). */
  stdout?: Writable
  stderr?: Writable
  /** After a failure, how long the other ranks get between SIGTERM and SIGKILL (default 5000 ms). */
  killGraceMs?: number
  /** Aborting it stops every rank (SIGTERM, then SIGKILL after killGraceMs): a caller's own time-out. */
  signal?: AbortSignal
}

export interface RankExit {
  rank: number
  code: number | null
  signal: NodeJS.Signals | null
}

export interface LaunchResult {
  /** 0 when every rank exited 0; otherwise the first failed rank's exit code (128 + n for a signal). */
  exitCode: number
  /** The first rank that failed, if any (the others were stopped because of it). */
  failedRank?: number
  ranks: RankExit[]
  masterPort: number
}

const schema = z
  .object({
    nproc: z.number().int().min(1).max(1024),
    nnodes: z.number().int().min(1).default(1),
    nodeRank: z.number().int().min(0).default(0),
    masterAddr: z.string().min(1).default(DEFAULT_MASTER_ADDR),
    masterPort: z.number().int().min(1).max(65535).optional(),
    timeoutMs: z.number().int().min(1).optional(),
    env: z.record(z.string().optional()).optional(),
    cwd: z.string().optional(),
    stdout: z.any().optional(),
    stderr: z.any().optional(),
    killGraceMs: z.number().int().min(0).default(5000),
    signal: z.any().optional(),
  })
  .strict()

/** A TCP port that is free on this host now (for a single-node job's TCPStore). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** How long a rank's pipes are read after it exited (its last lines), before whatever still holds them is let go. */
const PIPE_GRACE_MS = 1000

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 }

function prefixLines(source: NodeJS.ReadableStream, sink: Writable, prefix: string): Promise<void> {
  return new Promise((resolve) => {
    let pending = ''
    source.setEncoding('utf8')
    source.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n')
      pending = lines.pop() ?? ''
      if (lines.length) sink.write(lines.map((l) => `${prefix}${l}\n`).join(''))
    })
    source.on('end', () => {
      if (pending) sink.write(`${prefix}${pending}\n`)
      resolve()
    })
  })
}

/**
 * Runs `command` (program and arguments) as `nproc` ranks of a data-parallel job, like `torchrun --nproc-per-node`.
 * Resolves when all ranks have exited (never rejects for a rank's failure: read exitCode / failedRank); rejects only
 * when the options are invalid or the program cannot be started. SIGINT / SIGTERM to this process are passed on.
 */
export async function launch(options: LaunchOptions, command: string[]): Promise<LaunchResult> {
  const parsed = schema.safeParse(options)
  if (!parsed.success) {
    const i = parsed.error.issues[0]
    throw new RangeError(`launch: options.${i.path.join('.') || '?'}: ${i.message}`)
  }
  const o = parsed.data
  if (o.nodeRank >= o.nnodes) throw new RangeError(`launch: nodeRank (${o.nodeRank}) must be below nnodes (${o.nnodes})`)
  if (!Array.isArray(command) || command.length === 0 || command.some((c) => typeof c !== 'string')) {
    throw new TypeError('launch: command must be a non-empty array of strings (the program, then its arguments)')
  }
  const masterPort = o.masterPort ?? (o.nnodes === 1 ? await freePort() : DEFAULT_MASTER_PORT)
  const stdout = (options.stdout ?? process.stdout) as Writable
  const stderr = (options.stderr ?? process.stderr) as Writable
  const worldSize = o.nnodes * o.nproc
  const children: ChildProcess[] = []
  const exits: (RankExit | undefined)[] = new Array(o.nproc).fill(undefined)
  let failed: RankExit | undefined
  let killTimer: NodeJS.Timeout | undefined

  // A rank's pipes stay open while anything in its process group still holds them (a program it started in the
  // background): such a group is signalled too, after its leader exited.
  const pipesOpen: boolean[] = new Array(o.nproc).fill(true)
  const signalAll = (signal: NodeJS.Signals) => {
    for (let i = 0; i < children.length; i++) {
      const c = children[i]
      if ((exits[i] && !pipesOpen[i]) || c.pid === undefined) continue
      // Each rank leads its own process group, so that the programs it started (npx -> node) get the signal too.
      try {
        process.kill(-c.pid, signal)
      } catch {
        if (exits[i]) continue
        try {
          c.kill(signal)
        } catch {
          /* already gone */
        }
      }
    }
  }
  const stopAll = () => {
    signalAll('SIGTERM')
    killTimer ??= setTimeout(() => signalAll('SIGKILL'), o.killGraceMs)
  }
  // Stopped from outside (a signal to this process, or the abort signal): the ranks' deaths are not failures.
  let stoppedBy: string | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy ??= signal
    signalAll(signal)
    killTimer ??= setTimeout(() => signalAll('SIGKILL'), o.killGraceMs)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const onAbort = () => {
    stoppedBy ??= 'abort'
    stderr.write('hiexp launch: aborted; stopping every rank\n')
    stopAll()
  }
  options.signal?.addEventListener('abort', onAbort)

  try {
    const done = Array.from({ length: o.nproc }, (_, localRank) => {
      const rank = o.nodeRank * o.nproc + localRank
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...o.env,
        RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        LOCAL_RANK: String(localRank),
        LOCAL_WORLD_SIZE: String(o.nproc),
        GROUP_RANK: String(o.nodeRank),
        NODE_RANK: String(o.nodeRank),
        MASTER_ADDR: o.masterAddr,
        MASTER_PORT: String(masterPort),
        ...(o.timeoutMs !== undefined ? { HIEXP_DIST_TIMEOUT_MS: String(o.timeoutMs) } : {}),
      }
      const child = spawn(command[0], command.slice(1), { env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      children.push(child)
      const prefix = `[rank ${rank}] `
      const streams = Promise.all([prefixLines(child.stdout!, stdout, prefix), prefixLines(child.stderr!, stderr, prefix)]).then(() => {
        pipesOpen[localRank] = false
      })
      return new Promise<RankExit>((resolve, reject) => {
        child.on('error', (error) => {
          stopAll()
          reject(new Error(`launch: cannot start '${command[0]}' for rank ${rank}: ${error.message}`))
        })
        child.on('exit', (code, signal) => {
          const exit: RankExit = { rank, code, signal }
          exits[localRank] = exit
          if ((code !== 0 || signal !== null) && !failed && !stoppedBy) {
            failed = exit
            stderr.write(
              `hiexp launch: rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}; stopping the other ranks\n`,
            )
            stopAll()
          }
          // The rank's own last output arrives at once; pipes held longer belong to a program it left behind, which
          // is not waited for (a failed job has signalled its group by now).
          let grace: NodeJS.Timeout | undefined
          const leftBehind = new Promise<void>((done) => (grace = setTimeout(done, PIPE_GRACE_MS)))
          void Promise.race([streams, leftBehind]).then(() => {
            clearTimeout(grace)
            if (pipesOpen[localRank]) {
              child.stdout?.destroy()
              child.stderr?.destroy()
            }
            resolve(exit)
          })
        })
      })
    })
    const ranks = await Promise.all(done)
    const exitCode = failed
      ? (failed.code ?? 128 + (SIGNALS[failed.signal ?? ''] ?? 1)) || 1
      : stoppedBy
        ? 128 + (SIGNALS[stoppedBy] ?? 2)
        : 0
    return { exitCode, ...(failed ? { failedRank: failed.rank } : {}), ranks, masterPort }
  } finally {
    if (killTimer) clearTimeout(killTimer)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    options.signal?.removeEventListener('abort', onAbort)
  }
}
