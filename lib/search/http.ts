/**
 * Client of Search-R1's retrieval server: `POST /retrieve {queries, topk, return_scores}` answered by
 * `{result: [[{document: {id, contents}, score}]]}` (or `[[{id, contents}]]` without scores). Every attempt has a
 * time-out; network errors, time-outs, 429 and 5xx are retried with exponential back-off; anything else (a 4xx, a
 * malformed answer) fails at once. When the server cannot be reached the error says so and how to start one.
 * What a server sends back is bounded: the body is read up to maxResponseBytes (within the attempt's time-out),
 * redirects are refused rather than followed (a retrieval URL that moves is a misconfiguration, and following it
 * would send the queries elsewhere), and a result list longer than topk is refused (or cut, on request).
 */
import { z } from 'zod'
import { readBoundedBody } from '../util/bounded_body.js'
import type { Passage, Retriever } from './types.js'

export const HttpRetrieverOptionsSchema = z
  .object({
    /** The retrieve endpoint, e.g. http://127.0.0.1:8000/retrieve (a bare origin gets /retrieve appended). */
    url: z.string().url(),
    /** Time-out of one attempt, in milliseconds. */
    timeoutMs: z.number().int().min(1).default(10_000),
    /** Retries after the first attempt. */
    retries: z.number().int().min(0).max(20).default(3),
    /** First back-off delay; doubled after every failed attempt, up to maxBackoffMs. */
    backoffMs: z.number().int().min(0).default(250),
    maxBackoffMs: z.number().int().min(0).default(5_000),
    /** Queries per request (larger batches are split). */
    batchSize: z.number().int().min(1).default(512),
    /** Largest response body read, in bytes; a larger answer is refused (not retried). */
    maxResponseBytes: z.number().int().min(1024).default(32 << 20),
    /**
     * A result list longer than the topk asked for: 'refuse' (an error naming the query; a server that ignores topk
     * would overfill the prompt's information budget) or 'trim' (keep the first topk, the server's best).
     */
    extraDocuments: z.enum(['refuse', 'trim']).default('refuse'),
  })
  .strict()

export type HttpRetrieverOptions = z.input<typeof HttpRetrieverOptionsSchema>

/** The retrieval server failed: unreachable, timed out, answered an error status, or answered in an unknown shape. */
export class RetrieverError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'RetrieverError'
  }
}

// A document in either of Search-R1's shapes ({document: {id, contents}, score} with scores, the document alone
// without); every field is checked by type, so a number as contents is refused naming its place, not passed on.
const Doc = z.object({ id: z.union([z.string(), z.number()]).optional(), contents: z.string().optional(), title: z.string().optional(), text: z.string().optional() }).passthrough()
const ScoredHit = z.object({ document: Doc, score: z.number().finite().optional() }).passthrough()
const Answer = z.object({ result: z.array(z.array(z.record(z.unknown()))) })
type Hit = { document: z.infer<typeof Doc>; score?: number }

const START_HINT = 'is the retrieval server running? Start one with: npx hiexp serve-retrieval --corpus corpus.jsonl --port 8000'

class Retryable extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

export class HttpRetriever implements Retriever {
  readonly url: string
  readonly options: z.output<typeof HttpRetrieverOptionsSchema>

  constructor(options: HttpRetrieverOptions) {
    const parsed = HttpRetrieverOptionsSchema.safeParse(options)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new RangeError(`HttpRetriever: option ${issue.path.join('.') || '(root)'}: ${issue.message}`)
    }
    this.options = parsed.data
    const u = new URL(parsed.data.url)
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/retrieve'
    this.url = u.toString()
  }

  async search(queries: string[], topk: number): Promise<Passage[][]> {
    if (!Array.isArray(queries) || queries.some((q) => typeof q !== 'string')) {
      throw new TypeError('HttpRetriever.search: queries must be an array of strings')
    }
    if (!Number.isInteger(topk) || topk < 1) throw new RangeError(`HttpRetriever.search: topk must be an integer >= 1, got ${topk}`)
    const out: Passage[][] = []
    for (let i = 0; i < queries.length; i += this.options.batchSize) {
      out.push(...(await this.request(queries.slice(i, i + this.options.batchSize), topk)))
    }
    return out
  }

  private async request(queries: string[], topk: number): Promise<Passage[][]> {
    if (queries.length === 0) return []
    const { retries, backoffMs, maxBackoffMs } = this.options
    const started = Date.now()
    let last: Retryable | undefined
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1)))
      try {
        return await this.once(queries, topk, attempt + 1)
      } catch (e) {
        if (!(e instanceof Retryable)) throw e
        last = e
      }
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    const unreachable = last?.status === undefined
    throw new RetrieverError(
      `HttpRetriever: POST ${this.url} failed after ${retries + 1} attempts over ${seconds} s: ${last?.message}` +
        (unreachable ? `; ${START_HINT}` : ''),
      retries + 1,
      last?.status,
      { cause: last },
    )
  }

  private async once(queries: string[], topk: number, attempt: number): Promise<Passage[][]> {
    const { timeoutMs } = this.options
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeoutMs)
    let body: unknown
    let status: number
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queries, topk, return_scores: true }),
        signal: controller.signal,
        redirect: 'manual',
      })
      status = res.status
      if (status >= 300 && status < 400) {
        await res.body?.cancel().catch(() => {})
        const to = res.headers.get('location')
        throw new RetrieverError(
          `HttpRetriever: POST ${this.url} answered a redirect (HTTP ${status}${to ? ` to ${to}` : ''}); redirects are not followed: give the final URL as url`,
          attempt,
          status,
        )
      }
      const text = await this.readCapped(res, attempt, controller.signal)
      if (status === 429 || status >= 500) throw new Retryable(`HTTP ${status} ${text.slice(0, 200)}`, status)
      if (status !== 200) {
        throw new RetrieverError(`HttpRetriever: POST ${this.url} answered HTTP ${status}: ${text.slice(0, 300)}`, attempt, status)
      }
      try {
        body = JSON.parse(text)
      } catch {
        throw new RetrieverError(`HttpRetriever: POST ${this.url} answered non-JSON: ${text.slice(0, 200)}`, attempt, status)
      }
    } catch (e) {
      if (e instanceof Retryable || e instanceof RetrieverError) throw e
      if (controller.signal.aborted) throw new Retryable(`timed out after ${timeoutMs} ms`)
      throw new Retryable(networkReason(e))
    } finally {
      clearTimeout(timer)
    }
    return this.parse(body, queries.length, topk, attempt)
  }

  /** The body as text, refused past maxResponseBytes (by its declared length, then while reading). */
  private async readCapped(res: Response, attempt: number, signal: AbortSignal): Promise<string> {
    const max = this.options.maxResponseBytes
    const refuse = (what: string) =>
      new RetrieverError(`HttpRetriever: POST ${this.url} answered ${what}, over maxResponseBytes = ${max}; ask for fewer queries per request (batchSize) or a smaller topk`, attempt, res.status)
    const declared = Number(res.headers.get('content-length') ?? Number.NaN)
    if (declared > max) {
      await res.body?.cancel().catch(() => {})
      throw refuse(`a body of ${declared} bytes`)
    }
    return readBoundedBody(res, {
      maxBytes: max,
      msLeft: this.options.timeoutMs,
      signal,
      oversized: (size) => refuse(`more than ${max} bytes (cut after ${size})`),
      // the attempt's own time-out aborted the body: retried, as a time-out before the headers is
      endless: () => new Retryable(`timed out after ${this.options.timeoutMs} ms while reading the body`),
    })
  }

  private parse(body: unknown, n: number, topk: number, attempt: number): Passage[][] {
    const unknownShape = (path: (string | number)[], message: string) =>
      new RetrieverError(
        `HttpRetriever: ${this.url} answered an unknown shape at ${['body', ...path].join('.')}: ${message} ` +
          '(expected {result: [[{document: {id, contents}, score}]]})',
        attempt,
        200,
      )
    const parsed = Answer.safeParse(body)
    if (!parsed.success) throw unknownShape(parsed.error.issues[0].path, parsed.error.issues[0].message)
    const result = parsed.data.result
    if (result.length !== n) {
      throw new RetrieverError(`HttpRetriever: ${this.url} answered ${result.length} result lists for ${n} queries`, attempt, 200)
    }
    const over = result.findIndex((hits) => hits.length > topk)
    if (over >= 0 && this.options.extraDocuments === 'refuse') {
      throw new RetrieverError(
        `HttpRetriever: ${this.url} answered ${result[over].length} documents for query ${over} where topk is ${topk}: refused, since the ` +
          "prompt's information budget is sized for topk (extraDocuments: 'trim' keeps the first topk)",
        attempt,
        200,
      )
    }
    return result.map((hits, qi) =>
      hits.slice(0, topk).map((raw, k) => {
        // With a `document` field the hit is the scored shape, else the document itself.
        const scored = 'document' in raw
        const checked = scored ? ScoredHit.safeParse(raw) : Doc.safeParse(raw)
        if (!checked.success) throw unknownShape(['result', qi, k, ...checked.error.issues[0].path], checked.error.issues[0].message)
        const hit: Hit = scored ? (checked.data as Hit) : { document: checked.data as z.infer<typeof Doc> }
        const doc = hit.document
        const contents = doc.contents ?? (doc.text !== undefined ? (doc.title !== undefined ? `${doc.title}\n${doc.text}` : doc.text) : undefined)
        if (contents === undefined) {
          throw new RetrieverError(`HttpRetriever: ${this.url} answered a document without contents at result[${qi}][${k}]`, attempt, 200)
        }
        const p: Passage = { id: doc.id === undefined ? `${qi}-${k}` : String(doc.id), contents }
        if (hit.score !== undefined) p.score = hit.score
        return p
      }),
    )
  }
}

function networkReason(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } }
  const cause = err?.cause
  if (cause?.code) return cause.message ? `${cause.code} (${cause.message})` : cause.code
  return cause?.message ?? err?.message ?? String(e)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
