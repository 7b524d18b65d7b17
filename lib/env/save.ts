/**
 * Writes a generated task in Search-R1's file layout — `corpus.jsonl` ({"id", "contents"}) and one
 * `<split>.jsonl` per split ({"id", "question", "golden_answers", "data_source", "metadata"}) — so that the generated
 * world goes through the same loaders, retrieval server and tools as a real data set. Each file is written atomically
 * (temporary file, then rename). `metadata` keeps hops, evidence, chain, relations and task type, which the loader
 * reads back.
 */
import { randomUUID } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Passage } from '../search/types.js'
import type { QaExample, Splits } from './types.js'

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`
  try {
    await writeFile(tmp, text)
    await rename(tmp, file)
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '')

export function qaToRow(q: QaExample): Record<string, unknown> {
  const metadata: Record<string, unknown> = { task_type: q.taskType }
  if (q.hops !== undefined) metadata.hops = q.hops
  if (q.evidence) metadata.evidence = q.evidence
  if (q.chain) metadata.chain = q.chain
  if (q.relations) metadata.relations = q.relations
  return { id: q.id, question: q.question, golden_answers: q.goldAnswers, data_source: q.dataSource, metadata }
}

/** Writes corpus.jsonl (when a corpus is given) and train/validation/test.jsonl into `dir` (created if missing). */
export async function saveSearchR1Layout(dir: string, data: { corpus?: readonly Passage[]; questions: Splits<QaExample> }): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const written: string[] = []
  if (data.corpus) {
    const file = join(dir, 'corpus.jsonl')
    await writeAtomic(file, jsonl(data.corpus.map((p) => ({ id: p.id, contents: p.contents }))))
    written.push(file)
  }
  for (const split of ['train', 'validation', 'test'] as const) {
    const file = join(dir, `${split}.jsonl`)
    await writeAtomic(file, jsonl(data.questions[split].map(qaToRow)))
    written.push(file)
  }
  return written
}
