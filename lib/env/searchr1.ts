/**
 * Loaders for question sets in Search-R1's layout: one row per question with `question`, `golden_answers` (strings)
 * and `data_source`, as JSONL or parquet (read through hyparquet). verl's layout is read too (Search-R1's processed
 * files are in it): a chat-style `prompt` list, `reward_model.ground_truth` (a string, a list, or `{ target }`),
 * `data_source` and `extra_info` (`question`, `index`); the question is extra_info.question, else the user message
 * (after its last "Question:" when the message is a whole instruction).
 */
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet'
import { assertDataFile, DataFormatError, describe } from './errors.js'
import { jsonlRows } from './jsonl.js'
import type { QaExample } from './types.js'

export interface LoadQaOptions {
  /** Used when a row has no `data_source` (default: the file name). */
  dataSource?: string
  /** Task family written to every example (default 'qa'). */
  taskType?: string
  /** Stop after this many rows. */
  limit?: number
}

/** Loads a Search-R1 question set, choosing the reader by extension (.jsonl/.json lines, or .parquet). */
export async function loadQaDataset(file: string, options: LoadQaOptions = {}): Promise<QaExample[]> {
  const ext = extname(file).toLowerCase()
  const known = ['.parquet', '.json', '.jsonl', '.ndjson'].includes(ext)
  if (known) assertDataFile(file, 'loadQaDataset')
  if (ext === '.parquet') return loadQaParquet(file, options)
  if (ext === '.json') return loadQaJson(file, options)
  if (ext === '.jsonl' || ext === '.ndjson') return loadQaJsonl(file, options)
  throw new DataFormatError(file, undefined, undefined, `unknown extension ${JSON.stringify(ext)}; expected .jsonl or .parquet`)
}

export async function loadQaJsonl(file: string, options: LoadQaOptions = {}): Promise<QaExample[]> {
  const out: QaExample[] = []
  for await (const { row, line: n } of jsonlRows(file)) {
    out.push(qaFromRow(row, file, n, out.length, options))
    if (options.limit !== undefined && out.length >= options.limit) break
  }
  return out
}

/** A .json file: one JSON array of rows (errors name the row, from 1), or JSON lines. */
export async function loadQaJson(file: string, options: LoadQaOptions = {}): Promise<QaExample[]> {
  const text = await readFile(file, 'utf8')
  if (!text.trimStart().startsWith('[')) return loadQaJsonl(file, options)
  let rows: unknown[]
  try {
    rows = JSON.parse(text) as unknown[]
  } catch (e) {
    throw new DataFormatError(file, undefined, undefined, `not valid JSON (${(e as Error).message})`)
  }
  return rows.slice(0, options.limit).map((row, i) => qaFromRow(row, file, i + 1, i, options))
}

export async function loadQaParquet(file: string, options: LoadQaOptions = {}): Promise<QaExample[]> {
  let rows: Record<string, unknown>[]
  try {
    rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), rowEnd: options.limit })
  } catch (e) {
    // hyparquet's own messages ("parquet file invalid (footer != PAR1)") do not say which file.
    throw new DataFormatError(file, undefined, undefined, `not a readable parquet file (${(e as Error).message})`)
  }
  // Parquet has no lines: errors name the row, counted from 1.
  return rows.map((row, i) => qaFromRow(row, file, i + 1, i, options))
}

/** Validates one row and converts it; `line` is the JSONL line or the parquet row (from 1). */
export function qaFromRow(row: unknown, file: string, line: number, index: number, options: LoadQaOptions = {}): QaExample {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new DataFormatError(file, line, undefined, `expected an object, got ${describe(row)}`)
  }
  const r = row as Record<string, unknown>

  const extra = r.extra_info && typeof r.extra_info === 'object' && !Array.isArray(r.extra_info) ? (r.extra_info as Record<string, unknown>) : {}
  let question = r.question
  if (question === undefined && typeof extra.question === 'string') question = extra.question
  if (question === undefined) question = questionFromPrompt(r.prompt)
  if (typeof question !== 'string' || question.trim() === '') {
    throw new DataFormatError(file, line, 'question', `expected a non-empty string, got ${describe(question)}`)
  }

  let answers: unknown = r.golden_answers
  let answerField = 'golden_answers'
  if (answers === undefined) {
    const truth = (r.reward_model as { ground_truth?: unknown } | undefined)?.ground_truth
    const target = truth && typeof truth === 'object' && !Array.isArray(truth) ? (truth as { target?: unknown }).target : undefined
    if (target !== undefined) {
      answers = target
      answerField = 'reward_model.ground_truth.target'
    } else if (truth !== undefined) {
      // verl's own data sets: one answer as a string, or a list of them.
      answers = typeof truth === 'string' ? [truth] : truth
      answerField = 'reward_model.ground_truth'
    }
  }
  if (!Array.isArray(answers) || answers.length === 0) {
    throw new DataFormatError(file, line, answerField, `expected a non-empty array of strings, got ${describe(answers)}`)
  }
  answers.forEach((a, k) => {
    if (typeof a !== 'string') throw new DataFormatError(file, line, `${answerField}[${k}]`, `expected a string, got ${describe(a)}`)
  })

  const source = r.data_source ?? options.dataSource ?? file.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '')
  if (typeof source !== 'string') {
    throw new DataFormatError(file, line, 'data_source', `expected a string, got ${describe(source)}`)
  }
  const rawId = r.id ?? extra.index
  const id = typeof rawId === 'string' || typeof rawId === 'number' || typeof rawId === 'bigint' ? String(rawId) : `${source}-${index}`
  const out: QaExample = { id, question: question.trim(), goldAnswers: answers as string[], dataSource: source, taskType: options.taskType ?? 'qa' }
  // Known keys of `metadata` (as saveSearchR1Layout writes them) are read back when their types fit; others are ignored.
  const meta = r.metadata
  if (meta && typeof meta === 'object' && !Array.isArray(meta)) {
    const m = meta as Record<string, unknown>
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
    if (options.taskType === undefined && typeof m.task_type === 'string') out.taskType = m.task_type
    if (typeof m.hops === 'number' && Number.isInteger(m.hops)) out.hops = m.hops
    if (strings(m.evidence)) out.evidence = m.evidence
    if (strings(m.chain)) out.chain = m.chain
    if (strings(m.relations)) out.relations = m.relations
  }
  return out
}

/** The question of a chat prompt: Search-R1's rows end the user message with "... Question: <q>\n"; verl's may be the question alone. */
function questionFromPrompt(prompt: unknown): string | undefined {
  if (!Array.isArray(prompt)) return undefined
  const user = prompt.find((m) => m && typeof m === 'object' && (m as { role?: unknown }).role === 'user') as
    | { content?: unknown }
    | undefined
  const content = user?.content
  if (typeof content !== 'string') return undefined
  const at = content.lastIndexOf('Question:')
  const q = (at < 0 ? content : content.slice(at + 'Question:'.length)).trim()
  return q === '' ? undefined : q
}
