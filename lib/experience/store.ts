/**
 * The trajectory store: every rollout as one JSON line, appended (never rewritten), readable while training writes it.
 * A reader keeps a byte offset and ignores a last line that has no newline yet and is not a whole record (a write in
 * progress), so tailing the file during a run never sees half a record.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs'
import { writeFileAtomic } from '../util/atomic.js'
import { dirname } from 'node:path'
import { AppendOnlyFile, isCompleteRecord } from '../util/append_only.js'
import type { QaExample } from '../env/types.js'
import type { RewardParts } from '../agent/reward.js'
import type { Rollout } from '../agent/rollout.js'
import { firstIssue, TrajectoryRecordSchema, type TrajectoryRecord, type TrajectoryRecordInput } from './types.js'

export interface RecordContext {
  example: Pick<QaExample, 'id' | 'question' | 'taskType'> & Partial<Pick<QaExample, 'hops' | 'goldAnswers' | 'chain'>>
  reward: RewardParts | ({ total: number } & Record<string, number>)
  step?: number
  guided?: boolean
  /** Defaults to `${example.id}#${step}#${rollout.index}`. */
  id?: string
}

/** The stored form of a rollout (drops token ids, masks and log-probabilities; keeps counts). */
export function recordFromRollout(rollout: Rollout, ctx: RecordContext): TrajectoryRecord {
  const step = ctx.step ?? 0
  const rec: TrajectoryRecordInput = {
    id: ctx.id ?? `${ctx.example.id}#${step}#${rollout.index}`,
    questionId: ctx.example.id,
    question: ctx.example.question,
    taskType: ctx.example.taskType,
    prompt: rollout.prompt,
    guided: ctx.guided ?? false,
    turns: rollout.turns.map((t) => ({
      text: t.text,
      action: t.action,
      ...(t.query !== undefined && { query: t.query }),
      ...(t.passageIds !== undefined && { passageIds: t.passageIds }),
      ...(t.information !== undefined && { information: t.information }),
      wellFormed: t.wellFormed,
    })),
    queries: rollout.queries,
    answer: rollout.answer,
    finish: rollout.finish,
    reward: { ...ctx.reward },
    searchCalls: rollout.searchCalls,
    responseTokens: rollout.responseTokens,
    totalTokens: rollout.tokens.length,
    step,
    time: new Date().toISOString(),
  }
  if (ctx.example.hops !== undefined) rec.hops = ctx.example.hops
  if (ctx.example.goldAnswers) rec.goldAnswers = [...ctx.example.goldAnswers]
  if (ctx.example.chain) rec.chain = [...ctx.example.chain]
  if (rollout.formatError !== undefined) rec.formatError = rollout.formatError
  return TrajectoryRecordSchema.parse(rec)
}

/** Append-only JSONL writer. Each `append` is one write call, so concurrent readers see whole lines or nothing new. */
export interface TrajectoryStoreOptions {
  /** Start the file empty (a script that records its trajectories afresh each time it runs); default: append. */
  reset?: boolean
}

export class TrajectoryStore {
  private readonly file: AppendOnlyFile
  constructor(readonly path: string, options: TrajectoryStoreOptions = {}) {
    mkdirSync(dirname(path), { recursive: true })
    if (options.reset) writeFileAtomic(path, '')
    this.file = new AppendOnlyFile(path, 'trajectories:append')
  }

  append(records: TrajectoryRecordInput | readonly TrajectoryRecordInput[]): void {
    const list = Array.isArray(records) ? records : [records as TrajectoryRecordInput]
    if (list.length === 0) return
    const lines = list.map((r, i) => {
      const parsed = TrajectoryRecordSchema.safeParse(r)
      if (!parsed.success) throw new TypeError(`TrajectoryStore.append: records[${i}]: ${firstIssue(parsed.error)}`)
      return JSON.stringify(parsed.data) + '\n'
    })
    this.file.append(lines.join(''))
  }

  /** Every complete record so far. */
  read(options: ReadOptions = {}): TrajectoryRecord[] {
    return readTrajectories(this.path, options).records
  }
}

export interface ReadOptions {
  /** Byte offset to start at (a previous read's `nextOffset`). */
  offset?: number
  /** A complete line that is not a valid record: 'throw' (default, naming the line) or 'skip'. */
  onInvalid?: 'throw' | 'skip'
}

export interface ReadResult {
  records: TrajectoryRecord[]
  /** Offset just past the last complete line read: pass it back to read only what came since. */
  nextOffset: number
  skipped: number
}

/** Reads complete lines from `offset`; a trailing partial line (being written) is left for the next read. */
export function readTrajectories(path: string, options: ReadOptions = {}): ReadResult {
  const offset = options.offset ?? 0
  if (!existsSync(path)) return { records: [], nextOffset: offset, skipped: 0 }
  const fd = openSync(path, 'r')
  let buf: Buffer
  try {
    const size = fstatSync(fd).size
    if (offset > size) throw new RangeError(`readTrajectories: offset ${offset} is past the end of ${path} (${size} bytes)`)
    buf = Buffer.alloc(size - offset)
    let got = 0
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, offset + got)
      if (n === 0) break
      got += n
    }
    buf = buf.subarray(0, got)
  } finally {
    closeSync(fd)
  }
  // Whole lines, and a last line without its newline when it is a whole record (only a torn write is left unread).
  let end = buf.lastIndexOf(0x0a)
  if (end + 1 < buf.length && isCompleteRecord(buf.subarray(end + 1).toString('utf8'))) end = buf.length
  if (end < 0) return { records: [], nextOffset: offset, skipped: 0 }
  const text = buf.subarray(0, end).toString('utf8')
  const records: TrajectoryRecord[] = []
  let skipped = 0
  // Line numbers are counted from `offset` (1-based), which is the whole file when reading from the start.
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return
    let value: unknown
    let problem: string | undefined
    try {
      value = JSON.parse(line)
    } catch (e) {
      problem = `not JSON (${(e as Error).message})`
    }
    if (problem === undefined) {
      const parsed = TrajectoryRecordSchema.safeParse(value)
      if (parsed.success) return void records.push(parsed.data)
      problem = firstIssue(parsed.error)
    }
    if (options.onInvalid === 'skip') return void skipped++
    throw new Error(`hiexp: ${path} line ${i + 1}${offset ? ` after byte ${offset}` : ''} is not a trajectory record: ${problem}`)
  })
  return { records, nextOffset: offset + Math.min(end + 1, buf.length), skipped }
}

/** Follows a growing store: each `poll()` returns the records appended since the last one. */
export class TrajectoryTail {
  private offset = 0
  constructor(readonly path: string, private readonly options: Omit<ReadOptions, 'offset'> = {}) {}
  poll(): TrajectoryRecord[] {
    const r = readTrajectories(this.path, { ...this.options, offset: this.offset })
    this.offset = r.nextOffset
    return r.records
  }
}
