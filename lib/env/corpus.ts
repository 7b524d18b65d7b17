/**
 * Loader of a retrieval corpus in Search-R1's JSONL layout: one `{"id": …, "contents": "Title\ntext"}` per line. Rows
 * with `title` and `text` instead of `contents` (FlashRAG's other layout) are joined into `contents`.
 */
import type { Passage } from '../search/types.js'
import { assertDataFile, DataFormatError, describe } from './errors.js'
import { jsonlRows } from './jsonl.js'

export interface LoadCorpusOptions {
  limit?: number
}

export async function loadCorpusJsonl(file: string, options: LoadCorpusOptions = {}): Promise<Passage[]> {
  assertDataFile(file, 'loadCorpusJsonl (corpus)')
  const out: Passage[] = []
  const ids = new Map<string, number>()
  for await (const { row, line: n } of jsonlRows(file)) {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new DataFormatError(file, n, undefined, `expected an object, got ${describe(row)}`)
    }
    const r = row as Record<string, unknown>
    if (typeof r.id !== 'string' && typeof r.id !== 'number') {
      throw new DataFormatError(file, n, 'id', `expected a string or a number, got ${describe(r.id)}`)
    }
    const id = String(r.id)
    let contents = r.contents
    if (contents === undefined && typeof r.text === 'string') {
      contents = typeof r.title === 'string' ? `${r.title}\n${r.text}` : r.text
    }
    if (typeof contents !== 'string') {
      throw new DataFormatError(file, n, 'contents', `expected a string, got ${describe(contents)}`)
    }
    const first = ids.get(id)
    if (first !== undefined) throw new DataFormatError(file, n, 'id', `duplicate id ${JSON.stringify(id)} (first on line ${first})`)
    ids.set(id, n)
    out.push({ id, contents })
    if (options.limit !== undefined && out.length >= options.limit) break
  }
  return out
}
