/**
 * A retrieval server speaking Search-R1's API (`POST /retrieve {queries, topk, return_scores}`), serving any Retriever
 * (a BM25 index by default: hiexp serve-retrieval, examples/retrieval-server.ts). Used to test the HTTP client on loopback and to share one
 * index between processes. Every request is bounded before any work is done on it: its body size (by the declared
 * length, then while reading), its number of queries, each query's length, and the terms of all its queries together
 * (BM25's work grows with the terms: 1024 legal 4096-character queries held a 20k-passage index for minutes). The
 * queries are then scored a slice at a time, yielding to the event loop between slices, so `/health`, other requests
 * and SIGTERM are answered while a large request runs, and a request whose client left, or a server being closed,
 * stops scoring. Slow clients are cut: headers within headersTimeoutMs, the whole request within requestTimeoutMs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import type { Passage, Retriever } from './types.js'

export interface RetrievalServerOptions {
  retriever: Retriever
  /** Default 127.0.0.1 (loopback only). */
  host?: string
  /** Default 0: any free port. */
  port?: number
  /** Largest topk accepted (default 100). */
  maxTopk?: number
  /** Largest request body in bytes (default 4 MiB); a larger one is refused with 413 before it is parsed. */
  maxBodyBytes?: number
  /** Most queries in one request (default 1024; HttpRetriever's batchSize splits larger batches). */
  maxQueries?: number
  /** Longest query, in characters (default 4096). */
  maxQueryChars?: number
  /** Most terms (words) in one query (default 64; a query is scored in one piece). */
  maxQueryTerms?: number
  /** Most terms of all the queries of one request together (default 8192): the bound on one request's work. */
  maxRequestTerms?: number
  /** Terms scored in one turn of the event loop (default 64; a query is never split). */
  sliceTerms?: number
  /** A client must send its headers within this (default 10 s). */
  headersTimeoutMs?: number
  /** … and its whole request within this (default 30 s): a slow-loris connection is cut. */
  requestTimeoutMs?: number
  /** Waits this long before answering each request (for tests of time-outs and of a server killed mid-request). */
  delayMs?: number
}

export interface RetrievalServer {
  /** The retrieve endpoint, e.g. http://127.0.0.1:41234/retrieve. */
  url: string
  port: number
  /** Stops listening and cuts open connections (in-flight requests fail, as if the server had died). */
  close(): Promise<void>
}

const Request = z.object({
  queries: z.array(z.string()),
  topk: z.number().int().min(1).optional(),
  return_scores: z.boolean().optional(),
})

const Limits = z
  .object({
    maxTopk: z.number().int().min(1).default(100),
    maxBodyBytes: z.number().int().min(1024).default(4 << 20),
    maxQueries: z.number().int().min(1).default(1024),
    maxQueryChars: z.number().int().min(1).default(4096),
    maxQueryTerms: z.number().int().min(1).default(64),
    maxRequestTerms: z.number().int().min(1).default(8192),
    sliceTerms: z.number().int().min(1).default(64),
    headersTimeoutMs: z.number().int().min(1).default(10_000),
    requestTimeoutMs: z.number().int().min(1).default(30_000),
    delayMs: z.number().min(0).default(0),
  })
  .strip()

/**
 * Starts the server and resolves once it listens. Bad requests get a JSON `{error}` naming the field and the limit:
 * 413 for a body over maxBodyBytes, 400 for a malformed body, too many queries, a query too long, or topk over
 * maxTopk; 404/405 for other routes and methods. `GET /health` answers `{ok: true}`.
 */
export async function startRetrievalServer(options: RetrievalServerOptions): Promise<RetrievalServer> {
  const { retriever, host = '127.0.0.1', port = 0 } = options
  const parsedLimits = Limits.safeParse(options)
  if (!parsedLimits.success) {
    const issue = parsedLimits.error.issues[0]
    throw new RangeError(`startRetrievalServer: option ${issue.path.join('.')}: ${issue.message}`)
  }
  const { maxTopk, maxBodyBytes, maxQueries, maxQueryChars, maxQueryTerms, maxRequestTerms, sliceTerms, headersTimeoutMs, requestTimeoutMs, delayMs } = parsedLimits.data
  let closing = false
  // One slice of scoring per turn of the event loop, whichever request it belongs to: requests take turns, and I/O
  // (a health check, a new request, a signal) is served between any two slices. Yielding each request on its own
  // (setImmediate per request) would run one slice of every waiting request back to back before polling again.
  const turns: Array<() => void> = []
  let turning = false
  const runTurn = () => {
    const next = turns.shift()
    if (!next) {
      turning = false
      return
    }
    next()
    setImmediate(runTurn)
  }
  const takeTurn = () =>
    new Promise<void>((resolve) => {
      turns.push(resolve)
      if (!turning) {
        turning = true
        setImmediate(runTurn)
      }
    })
  const send = (res: ServerResponse, status: number, body: unknown, close = false) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(close && { connection: 'close' }) })
    res.end(text)
  }
  // The rest of a refused body is not read: the connection is closed once the answer is out.
  const tooLarge = (res: ServerResponse, what: string) =>
    send(res, 413, { error: `request body ${what} is over the limit of ${maxBodyBytes} bytes (maxBodyBytes); send fewer or shorter queries per request` }, true)
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (req.method === 'GET' && path === '/health') return send(res, 200, { ok: true })
    if (path !== '/retrieve') return send(res, 404, { error: `no route ${req.method} ${path}; use POST /retrieve` })
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST /retrieve' })
    const declared = Number(req.headers['content-length'] ?? Number.NaN)
    if (declared > maxBodyBytes) return tooLarge(res, `of ${declared} bytes`)
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > maxBodyBytes) return tooLarge(res, `(${size} bytes read so far)`)
      chunks.push(chunk as Buffer)
    }
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      return send(res, 400, { error: 'request body is not JSON' })
    }
    const parsed = Request.safeParse(body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      return send(res, 400, { error: `field ${issue.path.join('.') || '(body)'}: ${issue.message}` })
    }
    const { queries, topk = 3, return_scores = false } = parsed.data
    if (topk > maxTopk) return send(res, 400, { error: `field topk: at most ${maxTopk}, got ${topk}` })
    if (queries.length > maxQueries) {
      return send(res, 400, { error: `field queries: at most ${maxQueries} queries per request (maxQueries), got ${queries.length}; split the batch` })
    }
    const long = queries.findIndex((q) => q.length > maxQueryChars)
    if (long >= 0) {
      return send(res, 400, { error: `field queries.${long}: a query has at most ${maxQueryChars} characters (maxQueryChars), got ${queries[long].length}` })
    }
    const terms = queries.map(termCount)
    const wordy = terms.findIndex((n) => n > maxQueryTerms)
    if (wordy >= 0) {
      return send(res, 400, { error: `field queries.${wordy}: a query has at most ${maxQueryTerms} terms (maxQueryTerms), got ${terms[wordy]}` })
    }
    const total = terms.reduce((a, b) => a + b, 0)
    if (total > maxRequestTerms) {
      return send(res, 400, { error: `field queries: at most ${maxRequestTerms} terms in all the queries of one request (maxRequestTerms), got ${total}; split the batch` })
    }
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
    const hits: Passage[][] = []
    for (let i = 0; i < queries.length; ) {
      // A slice of whole queries of about sliceTerms terms, in this request's turn (see takeTurn).
      await takeTurn()
      if (closing || res.destroyed || req.socket.destroyed) {
        res.destroy()
        return
      }
      let j = i + 1
      for (let budget = terms[i]; j < queries.length && budget + terms[j] <= sliceTerms; j++) budget += terms[j]
      hits.push(...(await retriever.search(queries.slice(i, j), topk)))
      i = j
    }
    const result = hits.map((ps) =>
      ps.map((p) => {
        const document = { id: p.id, contents: p.contents }
        return return_scores ? { document, score: p.score ?? 0 } : document
      }),
    )
    send(res, 200, { result })
  }
  // Node checks the request time-outs every connectionsCheckingInterval (30 s by default): often enough to honour them.
  const server = createServer({ connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeoutMs / 2, requestTimeoutMs / 2)) }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: (e as Error).message })
      else res.destroy()
    })
  })
  server.headersTimeout = headersTimeoutMs
  server.requestTimeout = requestTimeoutMs
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const actual = (server.address() as AddressInfo).port
  const shownHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shownHost}:${actual}/retrieve`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Terms of a query as a full-text index splits it (on spaces and punctuation; stop words counted: an upper bound). */
function termCount(query: string): number {
  let n = 0
  for (const t of query.split(/[\n\r\p{Z}\p{P}]+/u)) if (t !== '') n++
  return n
}
