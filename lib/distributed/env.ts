// torchrun's environment variables: what a launcher (hiexp launch, torchrun, Slurm scripts, Kubernetes operators)
// tells each process about its place in the job. Read once here, validated, then trusted.
import { z } from 'zod'

/** Where this process stands in a distributed job, as torchrun describes it. */
export interface DistEnv {
  /** Global rank (RANK), 0 … worldSize-1. */
  rank: number
  /** Number of processes in the job (WORLD_SIZE). */
  worldSize: number
  /** Rank on this node (LOCAL_RANK): the GPU index for one process per GPU. */
  localRank: number
  /** Processes on this node (LOCAL_WORLD_SIZE). */
  localWorldSize: number
  /** Address of rank 0's node, where the TCPStore rendezvous listens (MASTER_ADDR). */
  masterAddr: string
  /** Port of the TCPStore on the master (MASTER_PORT). */
  masterPort: number
  /** Collective time-out in ms (HIEXP_DIST_TIMEOUT_MS), when set. */
  timeoutMs?: number
  /** torchrun's agent already serves the TCPStore (TORCHELASTIC_USE_AGENT_STORE=True): rank 0 joins it as a client. */
  agentStore: boolean
}

export const DEFAULT_MASTER_ADDR = '127.0.0.1'
export const DEFAULT_MASTER_PORT = 29500

const intVar = (name: string, min: number, max: number) =>
  z.coerce
    .number({ invalid_type_error: `${name} must be an integer` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`)

const envSchema = z.object({
  RANK: intVar('RANK', 0, 1 << 20).default(0),
  WORLD_SIZE: intVar('WORLD_SIZE', 1, 1 << 20).default(1),
  LOCAL_RANK: intVar('LOCAL_RANK', 0, 1 << 20).optional(),
  LOCAL_WORLD_SIZE: intVar('LOCAL_WORLD_SIZE', 1, 1 << 20).optional(),
  MASTER_ADDR: z.string().min(1, 'MASTER_ADDR must not be empty').default(DEFAULT_MASTER_ADDR),
  MASTER_PORT: intVar('MASTER_PORT', 1, 65535).default(DEFAULT_MASTER_PORT),
  HIEXP_DIST_TIMEOUT_MS: intVar('HIEXP_DIST_TIMEOUT_MS', 1, 2 ** 40).optional(),
  TORCHELASTIC_USE_AGENT_STORE: z.string().optional(),
})

/**
 * Reads RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE (set by
 * torchrun) and HIEXP_DIST_TIMEOUT_MS.
 */
export function readDistEnv(env: NodeJS.ProcessEnv = process.env): DistEnv {
  const picked: Record<string, string> = {}
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key]
    if (v !== undefined && v !== '') picked[key] = v
  }
  const parsed = envSchema.safeParse(picked)
  if (!parsed.success) {
    throw new RangeError(`hiexp.dist: bad environment: ${parsed.error.issues.map((i) => i.message).join('; ')}`)
  }
  const e = parsed.data
  if (e.RANK >= e.WORLD_SIZE) throw new RangeError(`hiexp.dist: RANK (${e.RANK}) must be below WORLD_SIZE (${e.WORLD_SIZE})`)
  return {
    rank: e.RANK,
    worldSize: e.WORLD_SIZE,
    localRank: e.LOCAL_RANK ?? e.RANK,
    localWorldSize: e.LOCAL_WORLD_SIZE ?? e.WORLD_SIZE,
    masterAddr: e.MASTER_ADDR,
    masterPort: e.MASTER_PORT,
    agentStore: e.TORCHELASTIC_USE_AGENT_STORE?.toLowerCase() === 'true',
    ...(e.HIEXP_DIST_TIMEOUT_MS !== undefined ? { timeoutMs: e.HIEXP_DIST_TIMEOUT_MS } : {}),
  }
}
