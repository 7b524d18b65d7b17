import test from 'ava'
import { request } from 'node:http'
import { generateWorld } from '../../lib/env/world.js'
import { Bm25Retriever } from '../../lib/search/bm25.js'
import { HttpRetriever, RetrieverError } from '../../lib/search/http.js'
import { startRetrievalServer } from '../../lib/search/server.js'
import type { Passage, Retriever } from '../../lib/search/types.js'

const bm25 = Bm25Retriever.build(generateWorld({ seed: 5 }).corpus)

/** A retriever that records what reached it (a refused request must not). */
function recording(): Retriever & { seen: number } {
  const r = {
    seen: 0,
    async search(queries: string[], topk: number): Promise<Passage[][]> {
      r.seen += queries.length
      return bm25.search(queries, topk)
    },
  }
  return r
}

async function post(url: string, body: string): Promise<{ status: number; error: string; connection?: string }> {
  const res = await fetch(url, { method: 'POST', body })
  const json = (await res.json()) as { error: string }
  return { status: res.status, error: json.error, connection: res.headers.get('connection') ?? undefined }
}

test('a 15 MB query is refused by the body limit before it is parsed, and the server stays responsive', async (t) => {
  const retriever = recording()
  const server = await startRetrievalServer({ retriever })
  try {
    const huge = JSON.stringify({ queries: ['q'.repeat(15 << 20)], topk: 3 })
    const r = await post(server.url, huge)
    t.is(r.status, 413)
    t.is(r.error, `request body of ${Buffer.byteLength(huge)} bytes is over the limit of ${4 << 20} bytes (maxBodyBytes); send fewer or shorter queries per request`)
    t.is(r.connection, 'close', 'the rest of the body is not read')
    t.is(retriever.seen, 0)
    // A body sent without a declared length is cut while it is read; the answer comes before the upload ends.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      let answered = false
      const req = request(server.url, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        answered = true
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      // Writing on after the server hung up fails (EPIPE/ECONNRESET): expected once it has answered.
      req.on('error', (e) => (answered ? undefined : reject(e)))
      const chunk = Buffer.alloc(1 << 20, 'q')
      let sent = 0
      const pump = () => {
        while (sent < 15 && !req.destroyed) {
          sent++
          if (!req.write(chunk)) return void req.once('drain', pump)
        }
        req.end()
      }
      pump()
    })
    t.is(chunked.status, 413)
    t.regex(chunked.body, /bytes read so far\) is over the limit of 4194304 bytes/)
    t.is(retriever.seen, 0)
    // Still serving.
    const ok = await fetch(server.url, { method: 'POST', body: JSON.stringify({ queries: ['who founded Acme?'], topk: 1 }) })
    t.is(ok.status, 200)
    t.is(retriever.seen, 1)
  } finally {
    await server.close()
  }
})

test('too many queries, or one too long, are refused with the field and the limit before any search', async (t) => {
  const retriever = recording()
  const server = await startRetrievalServer({ retriever })
  try {
    const many = await post(server.url, JSON.stringify({ queries: Array.from({ length: 200_000 }, () => 'a'), topk: 3 }))
    t.deepEqual(many, { status: 400, error: 'field queries: at most 1024 queries per request (maxQueries), got 200000; split the batch', connection: 'keep-alive' })
    const long = await post(server.url, JSON.stringify({ queries: ['ok', 'x'.repeat(5000)] }))
    t.is(long.status, 400)
    t.is(long.error, 'field queries.1: a query has at most 4096 characters (maxQueryChars), got 5000')
    t.is(retriever.seen, 0, 'nothing reached the retriever')
    // The limits are options; the HTTP client reports the refusal without retrying.
    const tight = await startRetrievalServer({ retriever, maxQueries: 2, maxQueryChars: 10 })
    try {
      const client = new HttpRetriever({ url: tight.url, batchSize: 3, retries: 2, backoffMs: 1 })
      const e = await t.throwsAsync(client.search(['a', 'b', 'c'], 1), { instanceOf: RetrieverError })
      t.is(e!.attempts, 1)
      t.regex(e!.message, /answered HTTP 400: .*at most 2 queries per request \(maxQueries\), got 3/)
      t.is((await new HttpRetriever({ url: tight.url, batchSize: 2 }).search(['a', 'b', 'c'], 1)).length, 3, 'batches within the limit pass')
    } finally {
      await tight.close()
    }
  } finally {
    await server.close()
  }
})

test('server limits are checked when it starts', async (t) => {
  await t.throwsAsync(startRetrievalServer({ retriever: bm25, maxQueries: 0 }), { message: /startRetrievalServer: option maxQueries: Number must be greater than or equal to 1/ })
  await t.throwsAsync(startRetrievalServer({ retriever: bm25, maxBodyBytes: 1.5 }), { message: /option maxBodyBytes: Expected integer/ })
})

// Issue 22 B6: one legal request must not stall the server. The terms of a request are bounded (not only its bytes),
// its queries are scored in slices between which /health, other requests and close() are served, and a server being
// closed stops scoring.
/** A retriever that works synchronously for `ms` per query (a large index), counting the queries it scored. */
function slow(ms: number): Retriever & { scored: number } {
  const r = {
    scored: 0,
    async search(queries: string[], topk: number): Promise<Passage[][]> {
      for (const _ of queries) {
        const until = Date.now() + ms
        while (Date.now() < until) {
          // Busy: the event loop is blocked while a query is scored, as with BM25 over a large corpus.
        }
        r.scored++
      }
      return bm25.search(queries, topk)
    },
  }
  return r
}

test('too many terms in one query or in one request are refused naming the field and the limit', async (t) => {
  const retriever = recording()
  const server = await startRetrievalServer({ retriever, maxQueryTerms: 8, maxRequestTerms: 20 })
  try {
    const one = await post(server.url, JSON.stringify({ queries: ['a b', 'one two three four five six seven eight nine'] }))
    t.deepEqual([one.status, one.error], [400, 'field queries.1: a query has at most 8 terms (maxQueryTerms), got 9'])
    const all = await post(server.url, JSON.stringify({ queries: Array.from({ length: 7 }, () => 'alpha, beta; gamma') }))
    t.deepEqual([all.status, all.error], [400, 'field queries: at most 20 terms in all the queries of one request (maxRequestTerms), got 21; split the batch'])
    t.is(retriever.seen, 0)
    const ok = await post(server.url, JSON.stringify({ queries: Array.from({ length: 6 }, () => 'alpha beta gamma') }))
    t.is(ok.status, 200)
  } finally {
    await server.close()
  }
})

test('/health and a small request are answered while a large request is scored; close() stops its scoring', async (t) => {
  const retriever = slow(20)
  const server = await startRetrievalServer({ retriever, sliceTerms: 1 })
  const base = server.url.replace(/\/retrieve$/, '')
  const order: string[] = []
  try {
    const big = fetch(server.url, { method: 'POST', body: JSON.stringify({ queries: Array.from({ length: 100 }, (_, i) => `query ${i}`) }) }).then(async (r) => {
      order.push(`big ${r.status}`)
      return r.json()
    })
    // Sent once the big request is being scored.
    while (retriever.scored === 0) await new Promise((r) => setTimeout(r, 5))
    const health = await fetch(`${base}/health`)
    order.push(`health ${health.status}`)
    t.deepEqual(await health.json(), { ok: true })
    const small = await post(server.url, JSON.stringify({ queries: ['q'] }))
    order.push(`small ${small.status}`)
    t.true(retriever.scored < 100, `answered with ${retriever.scored} of the big request's queries scored`)
    await big
    t.deepEqual(order, ['health 200', 'small 200', 'big 200'])

    // close() during a large request: scoring stops there (the request fails like a dead server's).
    const doomed = fetch(server.url, { method: 'POST', body: JSON.stringify({ queries: Array.from({ length: 100 }, (_, i) => `query ${i}`) }) }).then(
      () => 'answered',
      () => 'cut',
    )
    const before = retriever.scored
    while (retriever.scored === before) await new Promise((r) => setTimeout(r, 5))
    await server.close()
    t.is(await doomed, 'cut')
    const at = retriever.scored
    await new Promise((r) => setTimeout(r, 100))
    t.true(retriever.scored - before < 100 && retriever.scored === at, 'no query is scored after close()')
  } finally {
    await server.close()
  }
})
