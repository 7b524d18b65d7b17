// Process groups over libtorch's c10d: TCPStore rendezvous, then Gloo (CPU) or NCCL (CUDA) collectives. Every
// collective runs off the main thread and is bounded by the group's time-out: a dead or stalled rank turns into a
// rejected Promise with a message that names this rank, the operation and the time-out, never into a hang.
import { z } from 'zod'
import type { CollectiveArray, CollectiveResult, ProcessGroupHandle } from '../native/binding.js'
import { native } from '../native/loader.js'
import { readDistEnv } from './env.js'

export type DistBackend = 'gloo' | 'nccl'
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min'
export type { CollectiveArray, CollectiveResult } from '../native/binding.js'

export interface InitProcessGroupOptions {
  /** Global rank; default RANK, else 0. */
  rank?: number
  /** Number of ranks; default WORLD_SIZE, else 1. */
  worldSize?: number
  /** Rank 0's address (the TCPStore); default MASTER_ADDR, else 127.0.0.1. */
  masterAddr?: string
  /** The TCPStore's port; default MASTER_PORT, else 29500. */
  masterPort?: number
  /** 'gloo' (CPU tensors, default) or 'nccl' (CUDA tensors, one process per GPU; CUDA builds only). */
  backend?: DistBackend
  /**
   * Bound on the rendezvous and on every collective, in ms; default HIEXP_DIST_TIMEOUT_MS, else 300000 (5 min).
   * A rank that dies or stops makes the others fail within about this long.
   */
  timeoutMs?: number
  /** NCCL: this rank's GPU; default LOCAL_RANK. */
  cudaDevice?: number
}

export const DEFAULT_TIMEOUT_MS = 300_000

const optionsSchema = z
  .object({
    rank: z.number().int().min(0).optional(),
    worldSize: z.number().int().min(1).optional(),
    masterAddr: z.string().min(1).optional(),
    masterPort: z.number().int().min(1).max(65535).optional(),
    backend: z.enum(['gloo', 'nccl']).optional(),
    timeoutMs: z.number().int().min(1).optional(),
    cudaDevice: z.number().int().min(0).optional(),
  })
  .strict()

export class ProcessGroup {
  /** @internal the native handle (used by Policy.attachProcessGroup). */
  readonly handle: ProcessGroupHandle

  /** @internal use initProcessGroup. */
  constructor(
    handle: ProcessGroupHandle,
    readonly rank: number,
    readonly worldSize: number,
    readonly localRank: number,
    readonly backend: DistBackend,
    readonly timeoutMs: number,
  ) {
    this.handle = handle
  }

  /** True on rank 0, the rank that writes checkpoints and reports. */
  get isMain(): boolean {
    return this.rank === 0
  }

  /** Element-wise reduction over all ranks; every rank gets the result (a new array of the same type). */
  async allReduce<T extends CollectiveArray>(data: T, op: ReduceOp = 'sum'): Promise<CollectiveResult<T>> {
    return native().distAllReduce(this.handle, data, op)
  }

  /** Rank `root`'s array, on every rank (the arrays must have the same length and type everywhere). */
  async broadcast<T extends CollectiveArray>(data: T, root = 0): Promise<CollectiveResult<T>> {
    return native().distBroadcast(this.handle, data, root)
  }

  /**
   * Rank `root`'s JSON-serialisable value, on every rank (the others pass anything, e.g. undefined): for what rank 0
   * alone builds, such as the HEK or a data split. Two broadcasts: the byte length, then the UTF-8 bytes.
   */
  async broadcastJson<T>(value: T, root = 0): Promise<T> {
    const bytes = this.rank === root ? new TextEncoder().encode(JSON.stringify(value ?? null)) : new Uint8Array(0)
    const [length] = await this.broadcast(Float64Array.from([bytes.length]), root)
    const words = new Int32Array(Math.ceil(length / 4))
    if (this.rank === root) new Uint8Array(words.buffer).set(bytes)
    const received = length > 0 ? await this.broadcast(words, root) : words
    return JSON.parse(new TextDecoder().decode(new Uint8Array(received.buffer, 0, length))) as T
  }

  /** Resolves once every rank has reached it. */
  async barrier(): Promise<void> {
    await native().distBarrier(this.handle)
  }

  /**
   * Reduces named numbers over the ranks (mean by default): per-rank metrics such as rewards into job-wide ones.
   * Every rank must pass the same keys.
   */
  async reduceMetrics(metrics: Record<string, number>, op: ReduceOp = 'mean'): Promise<Record<string, number>> {
    const keys = Object.keys(metrics).sort()
    const r = await this.allReduce(Float64Array.from(keys, (k) => metrics[k]), op)
    return Object.fromEntries(keys.map((k, i) => [k, r[i]]))
  }

  /** Releases the connections (collective-free; later calls reject). */
  async destroy(): Promise<void> {
    await native().distDestroy(this.handle)
    if (current === this) current = undefined
  }
}

let current: ProcessGroup | undefined

/**
 * Joins the job's process group: rank 0 serves a TCPStore at masterAddr:masterPort, every rank connects to it, then
 * the backend connects all ranks. Options left out come from torchrun's environment variables (see readDistEnv).
 * Resolves when every rank has joined; rejects after timeoutMs otherwise.
 */
export async function initProcessGroup(options: InitProcessGroupOptions = {}): Promise<ProcessGroup> {
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    const i = parsed.error.issues[0]
    throw new RangeError(`initProcessGroup: options.${i.path.join('.') || '?'}: ${i.message}`)
  }
  const o = parsed.data
  const env = readDistEnv()
  const worldSize = o.worldSize ?? env.worldSize
  const rank = o.rank ?? env.rank
  if (rank >= worldSize) throw new RangeError(`initProcessGroup: rank (${rank}) must be below worldSize (${worldSize})`)
  const backend = o.backend ?? 'gloo'
  const timeoutMs = o.timeoutMs ?? env.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const localRank = o.rank !== undefined && o.rank !== env.rank ? o.rank : env.localRank
  const nativeOptions = {
    rank,
    worldSize,
    masterAddr: o.masterAddr ?? env.masterAddr,
    masterPort: o.masterPort ?? env.masterPort,
    backend,
    timeoutMs,
    ...(backend === 'nccl' ? { cudaDevice: o.cudaDevice ?? localRank } : {}),
    // Under torchrun the agent serves the store on MASTER_PORT; only when the address is the environment's.
    agentStore: env.agentStore && o.masterPort === undefined && o.masterAddr === undefined,
  }
  const handle = await native().distInit(nativeOptions)
  const group = new ProcessGroup(handle, rank, worldSize, localRank, backend, timeoutMs)
  current ??= group
  return group
}

/** The first group initProcessGroup made in this process (and not destroyed), if any. */
export function getProcessGroup(): ProcessGroup | undefined {
  return current
}

/**
 * True on the rank that writes checkpoints, reports and the HEK: rank 0 of the given (or current) group; without a
 * group, RANK (0 when unset) decides, so a single process is always main.
 */
export function isMainRank(group: ProcessGroup | undefined = current): boolean {
  if (group) return group.isMain
  const r = process.env.RANK
  return r === undefined || r === '' || Number(r) === 0
}

/** Which backends this build of the addon has. */
export function distBackends(): { gloo: boolean; nccl: boolean } {
  return native().distBackends()
}

/**
 * This rank's share of `items`: every worldSize-th item starting at rank (so shards differ by at most one). Shard
 * whole questions (each with its group of rollouts), so that group advantages need no communication.
 */
export function shard<T>(items: readonly T[], group: { rank: number; worldSize: number } | undefined = current): T[] {
  if (!group || group.worldSize === 1) return items.slice()
  return items.filter((_, i) => i % group.worldSize === group.rank)
}
