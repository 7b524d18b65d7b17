/**
 * A retrieval server speaking Search-R1's API (`POST /retrieve {queries, topk, return_scores}`), serving any Retriever
 * (a BM25 index by default: hiexp serve-retrieval, examples/retrieval-server.ts). Used to test the HTTP client on loopback and to share one
 * index between processes. Every request is bounded before any work is done on it: its body size (by the declared
 * length, then while reading), its number of queries and each query's length. One 15 MB query or 200k queries in one
 * request would otherwise hold the retriever for tens of seconds.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import type { Retriever } from './types.js'

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
  const { maxTopk, maxBodyBytes, maxQueries, maxQueryChars, delayMs } = parsedLimits.data
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
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
    const hits = await retriever.search(queries, topk)
    const result = hits.map((ps) =>
      ps.map((p) => {
        const document = { id: p.id, contents: p.contents }
        return return_scores ? { document, score: p.score ?? 0 } : document
      }),
    )
    send(res, 200, { result })
  }
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: (e as Error).message })
      else res.destroy()
    })
  })
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
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
