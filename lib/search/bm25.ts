/**
 * BM25 over a local corpus, through MiniSearch (its scorer is BM25+, which is plain BM25 with δ = 0, our default).
 * The index is saved as one JSON file holding the passages and MiniSearch's serialised index, written atomically
 * (temporary file, then rename) so that a crash never leaves a half-written index behind.
 */
import { randomUUID } from 'node:crypto'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import MiniSearch, { type AsPlainObject, type Options } from 'minisearch'
import { z } from 'zod'
import type { Passage, Retriever } from './types.js'

/** Lucene's English stop words (the analyzer behind Pyserini's BM25, which Search-R1 uses). */
export const ENGLISH_STOP_WORDS = [
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of', 'on',
  'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with',
]

export const Bm25OptionsSchema = z
  .object({
    /** Term-frequency saturation (Pyserini's default 0.9). */
    k1: z.number().positive().default(0.9),
    /** Length normalisation (Pyserini's default 0.4). */
    b: z.number().min(0).max(1).default(0.4),
    /** BM25+ lower bound δ; 0 gives classic BM25. */
    delta: z.number().min(0).default(0),
    /** Stop words dropped from passages and queries: 'english' (Lucene's list), 'none', or a list. */
    stopWords: z.union([z.enum(['english', 'none']), z.array(z.string())]).default('english'),
  })
  .strict()

export type Bm25Options = z.input<typeof Bm25OptionsSchema>
type Resolved = z.output<typeof Bm25OptionsSchema>

const FORMAT = 'hiexp-bm25'
const VERSION = 1

interface IndexFile {
  format: typeof FORMAT
  version: number
  options: Resolved
  ids: string[]
  contents: string[]
  index: AsPlainObject
}

interface Doc {
  i: number
  contents: string
}

function parseOptions(options: Bm25Options): Resolved {
  const parsed = Bm25OptionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`Bm25Retriever: option ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}

function miniSearchOptions(o: Resolved): Options<Doc> {
  const stop = new Set(o.stopWords === 'english' ? ENGLISH_STOP_WORDS : o.stopWords === 'none' ? [] : o.stopWords.map((w) => w.toLowerCase()))
  return {
    idField: 'i',
    fields: ['contents'],
    storeFields: [],
    processTerm: (term) => {
      const t = term.toLowerCase()
      return stop.has(t) ? null : t
    },
    searchOptions: { combineWith: 'OR', prefix: false, fuzzy: false, bm25: { k: o.k1, b: o.b, d: o.delta } },
  }
}

export class Bm25Retriever implements Retriever {
  private constructor(
    private readonly index: MiniSearch<Doc>,
    private readonly ids: string[],
    private readonly contents: string[],
    readonly options: Resolved,
  ) {}

  /** Indexes the passages (ids must be unique). */
  static build(passages: readonly Passage[], options: Bm25Options = {}): Bm25Retriever {
    const o = parseOptions(options)
    const seen = new Set<string>()
    for (const [k, p] of passages.entries()) {
      if (typeof p?.id !== 'string' || typeof p.contents !== 'string') {
        throw new TypeError(`Bm25Retriever.build: passages[${k}] must be {id: string, contents: string}`)
      }
      if (seen.has(p.id)) throw new RangeError(`Bm25Retriever.build: passages[${k}].id ${JSON.stringify(p.id)} is a duplicate`)
      seen.add(p.id)
    }
    const index = new MiniSearch<Doc>(miniSearchOptions(o))
    index.addAll(passages.map((p, i) => ({ i, contents: p.contents })))
    return new Bm25Retriever(index, passages.map((p) => p.id), passages.map((p) => p.contents), o)
  }

  /** Loads an index written by `save`. */
  static async load(file: string): Promise<Bm25Retriever> {
    let data: IndexFile
    try {
      data = JSON.parse(await readFile(file, 'utf8')) as IndexFile
    } catch (e) {
      throw new Error(`Bm25Retriever.load: cannot read ${file}: ${(e as Error).message}`)
    }
    if (data?.format !== FORMAT || data.version !== VERSION) {
      throw new Error(`Bm25Retriever.load: ${file} is not a ${FORMAT} v${VERSION} index (format ${data?.format}, version ${data?.version})`)
    }
    const o = parseOptions(data.options)
    const index = MiniSearch.loadJS<Doc>(data.index, miniSearchOptions(o))
    return new Bm25Retriever(index, data.ids, data.contents, o)
  }

  /** Writes the index to `file` atomically: a temporary file in the same folder, then a rename. */
  async save(file: string): Promise<void> {
    const data: IndexFile = {
      format: FORMAT,
      version: VERSION,
      options: this.options,
      ids: this.ids,
      contents: this.contents,
      index: this.index.toJSON(),
    }
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`
    try {
      await writeFile(tmp, JSON.stringify(data))
      await rename(tmp, file)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
  }

  get size(): number {
    return this.ids.length
  }

  /** The passages in index order. */
  passages(): Passage[] {
    return this.ids.map((id, i) => ({ id, contents: this.contents[i] }))
  }

  searchOne(query: string, topk: number): Passage[] {
    return this.index
      .search(query)
      .slice(0, topk)
      .map((r) => ({ id: this.ids[r.id as number], contents: this.contents[r.id as number], score: r.score }))
  }

  async search(queries: string[], topk: number): Promise<Passage[][]> {
    if (!Array.isArray(queries) || queries.some((q) => typeof q !== 'string')) {
      throw new TypeError('Bm25Retriever.search: queries must be an array of strings')
    }
    if (!Number.isInteger(topk) || topk < 1) throw new RangeError(`Bm25Retriever.search: topk must be an integer >= 1, got ${topk}`)
    return queries.map((q) => this.searchOne(q, topk))
  }
}
