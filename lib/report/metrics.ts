// Metrics as JSON lines, one object a step: appended and flushed as they come, so a crash loses at most the line
// being written, and a reader (a plot while training runs) skips a partial last line. The rows' names are typed by
// phase (what Trainer writes); extra sinks (TensorBoard) see the same rows.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { AppendOnlyFile } from '../util/append_only.js'

export type MetricValue = number | string | boolean | null | Record<string, number> | undefined

interface RowBase {
  step: number
  /** Unix time in seconds when the row was written (set by MetricsLog.append). */
  time?: number
  /** Rows of other versions or of a user's own phases keep their fields readable. */
  [name: string]: MetricValue
}

/** One RL step (phase 'rl'): rewards, advantages, the update's statistics, search behaviour and timings. */
export interface RlMetrics extends RowBase {
  phase: 'rl'
  rewardMean: number
  rewardStd: number
  /** Mean over groups of the reward std within a group. */
  rewardGroupStd: number
  /** Share of groups whose rewards are all equal (no gradient); with dynamic sampling, of those drawn. */
  zeroVarianceGroupShare: number
  advantageStd: number
  /** Training rollouts' EM, F1, CEM and format score (with the HEK in context for guided rollouts). */
  em: number
  f1: number
  cem: number
  format: number
  loss: number
  gradNorm: number
  clipFraction: number
  approxKl: number
  kl: number
  entropy: number
  lr: number
  searchCalls: number
  repeatedQueryShare: number
  responseTokens: number
  malformed: number
  rolloutSeconds: number
  generateSeconds: number
  retrieveSeconds: number
  trainSeconds: number
  stepSeconds: number
  /** Dynamic sampling only. */
  draws?: number
  groupsDrawn?: number
  groupsDropped?: number
  effectiveBatch?: number
  rewardMeanDrawn?: number
  /** HiExp runs only: share of search calls answered with an E1 case, and rewards of guided / unguided rollouts. */
  searchExperienceShare?: number
  guidedRewardMean?: number
  unguidedRewardMean?: number
}

/** A greedy validation (phase 'validation'): without the HEK, and with it for HiExp runs (the method's own number). */
export interface ValidationMetrics extends RowBase {
  phase: 'validation'
  em: number
  f1: number
  cem: number
  searchCalls: number
  responseTokens: number
  repeatedQueryShare: number
  emByHops: Record<string, number>
  /** HiExp runs: the same questions with the run's HEK at both injection points. */
  emWithExperience?: number
  f1WithExperience?: number
  cemWithExperience?: number
}

/** One supervised warm-start step (phase 'warm-start'). */
export interface WarmStartMetrics extends RowBase {
  phase: 'warm-start'
  loss: number
  gradNorm: number
  lr: number
}

/** The HEK built (trajectories) or refreshed (added) (phase 'hek'). */
export interface HekMetrics extends RowBase {
  phase: 'hek'
  experiences: number
  trajectories?: number
  added?: number
  seconds: number
}

export type MetricsRow = RlMetrics | ValidationMetrics | WarmStartMetrics | HekMetrics

/** Somewhere rows go besides metrics.jsonl (TensorBoard event files). */
export interface MetricsSink {
  write(row: MetricsRow): void
  close?(): void
}

export class MetricsLog {
  private readonly file: AppendOnlyFile
  constructor(
    readonly path: string,
    private readonly sinks: readonly MetricsSink[] = [],
  ) {
    mkdirSync(dirname(path), { recursive: true })
    if (!existsSync(path)) writeFileSync(path, '')
    this.file = new AppendOnlyFile(path, 'metrics:append')
  }

  /** Appends the row with its `time`; returns the row as written. */
  append<R extends MetricsRow>(row: R): R {
    const timed = { ...row, time: row.time ?? Date.now() / 1000 }
    this.file.append(JSON.stringify(timed) + '\n')
    for (const sink of this.sinks) sink.write(timed)
    return timed
  }

  close(): void {
    for (const sink of this.sinks) sink.close?.()
  }
}

/** Reads a metrics file, skipping a trailing partial line (a writer may be mid-append). A missing file is an error. */
export function readMetrics(path: string): MetricsRow[] {
  if (!existsSync(path)) throw new Error(`readMetrics: ${path}: no such file`)
  const rows: MetricsRow[] = []
  const lines = readFileSync(path, 'utf8').split('\n')
  lines.forEach((line, i) => {
    if (!line.trim()) return
    try {
      rows.push(JSON.parse(line) as MetricsRow)
    } catch (error) {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) {
        throw new Error(`${path}:${i + 1}: not a JSON object (${(error as Error).message})`)
      }
    }
  })
  return rows
}
