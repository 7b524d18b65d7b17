/**
 * A run directory: who owns it, and the commit protocol that makes every kill point resume to the state of an
 * uninterrupted run (docs/run-protocol.md).
 *
 * The checkpoint folder is the one commit point. Everything else a run writes is either append-only (metrics.jsonl,
 * trajectories*.jsonl) or derived (the published hek.json and its pictures). A checkpoint is written whole into
 * checkpoint.new, with the HEK of that step and run.json last: run.json records the step and the byte length of each
 * append-only file at that moment. Then two renames swap it in. Resuming finishes or discards an interrupted swap,
 * then cuts each append-only file back to its committed length, so rows written after the commit (a step that was
 * redone, a partial last line) are gone before they are written again.
 */
import { closeSync, copyFileSync, cpSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { writeFileAtomic } from '../util/atomic.js'
import { faultPoint } from '../util/fault.js'
import { readJsonFileSync } from '../util/json_file.js'
import { truncateToCommitted } from '../util/append_only.js'
import { CHECKPOINT_DIR } from './task.js'
import { EFFECTIVE_DEFAULT_PATHS } from './config.js'

export const RUN_CONFIG_FILE = 'config.json'
export const COMMIT_FILE = 'run.json'
export const COMMITTED_HEK_FILE = 'hek.json'
export const METRICS_FILE = 'metrics.jsonl'
export const trajectoriesFile = (rank: number) => (rank > 0 ? `trajectories.rank${rank}.jsonl` : 'trajectories.jsonl')

const RunCommitSchema = z
  .object({
    format: z.literal(1),
    /** RL steps taken. */
    step: z.number().int().min(0),
    warmStartDone: z.boolean(),
    /** metrics.jsonl's length in bytes when the checkpoint was committed. */
    metricsBytes: z.number().int().min(0),
    /** Each rank's trajectory file length in bytes (index: rank). */
    trajectoryBytes: z.array(z.number().int().min(0)),
    /** The step of the last dynamic-HEK refresh: the rollouts after it are the next refresh's input. */
    lastRefreshStep: z.number().int().min(0),
    /** The run's HEK at this step is committed beside the weights (checkpoint/hek.json). */
    hek: z.boolean(),
    /** Dynamic sampling: train questions drawn so far (the next draw starts there). */
    questionCursor: z.number().int().min(0).optional(),
  })
  .strict()

export type RunCommit = z.infer<typeof RunCommitSchema>

export function runPaths(outDir: string) {
  const checkpoint = join(outDir, CHECKPOINT_DIR)
  return { checkpoint, fresh: `${checkpoint}.new`, stale: `${checkpoint}.old`, config: join(outDir, RUN_CONFIG_FILE), metrics: join(outDir, METRICS_FILE) }
}

/** Flushes a folder's entries (renames, new files) to disk; a no-op where the platform cannot open folders. */
function syncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Windows cannot fsync a folder; the renames are still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Writes a checkpoint with `save` (the policy's files), adds the HEK and the commit record, and swaps it in. Called
 * by the run's main rank only, after every rank has reached the checkpoint.
 */
export async function commitCheckpoint(outDir: string, save: (dir: string) => Promise<void>, commit: RunCommit, hekJson?: string): Promise<void> {
  const { checkpoint, fresh, stale } = runPaths(outDir)
  rmSync(fresh, { recursive: true, force: true })
  faultPoint('checkpoint:begin')
  await save(fresh)
  faultPoint('checkpoint:saved')
  if (hekJson !== undefined) writeFileAtomic(join(fresh, COMMITTED_HEK_FILE), hekJson)
  writeFileAtomic(join(fresh, COMMIT_FILE), JSON.stringify(RunCommitSchema.parse(commit), null, 2))
  syncDir(fresh)
  faultPoint('checkpoint:committed')
  rmSync(stale, { recursive: true, force: true })
  if (existsSync(checkpoint)) renameSync(checkpoint, stale)
  faultPoint('checkpoint:old-moved')
  renameSync(fresh, checkpoint)
  syncDir(outDir)
  faultPoint('checkpoint:swapped')
  rmSync(stale, { recursive: true, force: true })
}

/**
 * Brings an interrupted checkpoint swap to its end (a committed checkpoint.new is the newest state; an uncommitted one
 * is discarded) and returns the committed checkpoint's record, or undefined when the run never committed one. A
 * checkpoint folder that lacks its commit record or its trainer state was damaged from outside: an error naming the
 * missing file, never a silent restart over the old run's files.
 */
export function recoverCheckpoint(outDir: string): RunCommit | undefined {
  const { checkpoint, fresh, stale } = runPaths(outDir)
  if (existsSync(fresh)) {
    if (existsSync(join(fresh, COMMIT_FILE))) {
      if (existsSync(checkpoint)) {
        rmSync(stale, { recursive: true, force: true })
        renameSync(checkpoint, stale)
      }
      renameSync(fresh, checkpoint)
      syncDir(outDir)
    } else {
      rmSync(fresh, { recursive: true, force: true })
    }
  }
  rmSync(stale, { recursive: true, force: true })
  if (!existsSync(checkpoint)) return undefined
  const commitPath = join(checkpoint, COMMIT_FILE)
  if (!existsSync(commitPath)) {
    const legacy = existsSync(join(outDir, 'state.json'))
    throw new Error(
      `${commitPath} is missing: ${checkpoint} is not a committed checkpoint` +
        (legacy ? ' (it was written by an earlier hiexp, with state.json beside it; resume it with that version)' : ' (it was changed from outside)') +
        '. Train into a new outDir, or remove the folder to start this run again',
    )
  }
  for (const needed of ['hiexp_trainer.json', 'config.json', 'tokenizer.json']) {
    const path = join(checkpoint, needed)
    if (!existsSync(path)) throw new Error(`${path} is missing: the committed checkpoint was damaged after it was written; restore the file or train into a new outDir`)
  }
  const parsed = RunCommitSchema.safeParse(readJsonFileSync(commitPath))
  if (!parsed.success) throw new Error(`${commitPath}: not a run commit record (${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message})`)
  return parsed.data
}

/** Cuts the run's append-only files back to what `commit` recorded (0 bytes without a commit). */
export function rollBackToCommit(outDir: string, commit: RunCommit | undefined, rank: number, isMain: boolean): void {
  if (isMain) truncateToCommitted(join(outDir, METRICS_FILE), commit?.metricsBytes ?? 0, 'metrics')
  truncateToCommitted(join(outDir, trajectoriesFile(rank)), commit?.trajectoryBytes[rank] ?? 0, 'trajectories')
}

// Differences that keep a run the same run: training it for longer, on another device, from a moved folder, with
// another metrics sink, or a config file naming its JSON Schema.
const FREE_TO_CHANGE = new Set(['steps', 'policy.device', 'outDir', 'logger', '$schema'])

/** A change that matters: not free to change, and not a default that a run saved by an earlier version left unset. */
function isRealChange(change: string): boolean {
  const path = change.slice(0, change.indexOf(':'))
  if (FREE_TO_CHANGE.has(path)) return false
  return !(EFFECTIVE_DEFAULT_PATHS.includes(path) && change.startsWith(`${path}: (unset) → `))
}

/** The folder holds a committed checkpoint (or a swap of one that recoverCheckpoint will finish, or a damaged one). */
function hasCheckpoint(outDir: string): boolean {
  const { checkpoint, fresh } = runPaths(outDir)
  return existsSync(checkpoint) || existsSync(join(fresh, COMMIT_FILE))
}

/** Every leaf path at which two JSON values differ, as "path: old → new". */
export function configChanges(before: unknown, after: unknown, path = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => configChanges(before[k], after[k], path ? `${path}.${k}` : k))
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return []
  const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v))
  return [`${path}: ${show(before)} → ${show(after)}`]
}

export interface ClaimOptions {
  /** Continue a run under a changed configuration (the changes are printed and config.json is rewritten). */
  resumeWithNewConfig?: boolean
  log?: (line: string) => void
}

const RUN_FILES = [METRICS_FILE, 'trajectories.jsonl', 'state.json', CHECKPOINT_DIR, `${CHECKPOINT_DIR}.new`, `${CHECKPOINT_DIR}.old`]

/**
 * A run directory belongs to one run. A new one gets the run's config.json; one that has a config.json is resumed
 * only under the same configuration (steps, policy.device and outDir may change), or with resumeWithNewConfig, which names
 * what changes. A folder holding run files without a config.json is refused.
 */
export function claimRunDir(outDir: string, config: object, options: ClaimOptions = {}): void {
  const { config: configPath } = runPaths(outDir)
  const current = JSON.parse(JSON.stringify(config)) as Record<string, unknown>
  // Until a checkpoint is committed nothing of the run survives a restart (the logs are cut back to empty), so a
  // corrected configuration after a failed first attempt is simply the run's configuration.
  if (existsSync(configPath) && !hasCheckpoint(outDir)) return writeFileAtomic(configPath, JSON.stringify(current, null, 2))
  if (existsSync(configPath)) {
    const changes = configChanges(readJsonFileSync(configPath), current).filter(isRealChange)
    if (changes.length === 0) return writeFileAtomic(configPath, JSON.stringify(current, null, 2))
    if (!options.resumeWithNewConfig) {
      const shown = changes.slice(0, 8).join('; ') + (changes.length > 8 ? `; and ${changes.length - 8} more` : '')
      throw new Error(
        `outDir ${resolve(outDir)} holds a run of another configuration (${configPath}): ${shown}. ` +
          'Choose another outDir, or pass --resume-with-new-config (Trainer.create(config, { resumeWithNewConfig: true })) to continue that run under the new one',
      )
    }
    ;(options.log ?? ((line: string) => console.error(line)))(`hiexp: resuming ${outDir} under a new configuration: ${changes.join('; ')}`)
    return writeFileAtomic(configPath, JSON.stringify(current, null, 2))
  }
  const found = existsSync(outDir) ? RUN_FILES.filter((f) => existsSync(join(outDir, f))) : []
  if (found.length > 0) {
    throw new Error(`outDir ${resolve(outDir)} holds run files (${found.join(', ')}) but no ${RUN_CONFIG_FILE}: it is not a run this version can resume. Choose another outDir`)
  }
  writeFileAtomic(configPath, JSON.stringify(current, null, 2))
}

/**
 * Starts a run in `to` from the committed checkpoint of the run in `from` (hiexp compare: every method from one warm
 * start): its weights and metrics up to that commit, no trajectories and no HEK. A fork that was cut short is redone;
 * a finished one (config.json written last) is left as it is, to be resumed.
 */
export function forkRun(from: string, to: string, config: object): void {
  if (existsSync(join(to, RUN_CONFIG_FILE))) return
  const commit = recoverCheckpoint(from)
  if (!commit) throw new Error(`forkRun: ${from} has no committed checkpoint to start from`)
  mkdirSync(to, { recursive: true })
  for (const f of readdirSync(to)) if (RUN_FILES.includes(f) || f.startsWith('trajectories')) rmSync(join(to, f), { recursive: true, force: true })
  const source = runPaths(from)
  const target = runPaths(to)
  cpSync(source.checkpoint, target.fresh, { recursive: true })
  rmSync(join(target.fresh, COMMITTED_HEK_FILE), { force: true })
  copyFileSync(source.metrics, target.metrics)
  truncateToCommitted(target.metrics, commit.metricsBytes, 'metrics')
  const forked: RunCommit = { ...commit, trajectoryBytes: [], hek: false }
  writeFileAtomic(join(target.fresh, COMMIT_FILE), JSON.stringify(forked, null, 2))
  renameSync(target.fresh, target.checkpoint)
  writeFileAtomic(target.config, JSON.stringify(JSON.parse(JSON.stringify(config)), null, 2))
}
