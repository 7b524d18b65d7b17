import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { generateWorld } from '../../lib/env/world.js'
import { Bm25Retriever } from '../../lib/search/bm25.js'
import { HttpRetriever, RetrieverError } from '../../lib/search/http.js'
import { startRetrievalServer } from '../../lib/search/server.js'

const world = generateWorld({ seed: 5 })
const bm25 = Bm25Retriever.build(world.corpus)
const queries = world.questions.test.slice(0, 20).map((q) => q.question)

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

test('the HTTP retriever against the loopback server returns what BM25 returns', async (t) => {
  const server = await startRetrievalServer({ retriever: bm25 })
  try {
    const client = new HttpRetriever({ url: server.url, timeoutMs: 2000 })
    const remote = await client.search(queries, 3)
    t.deepEqual(remote, await bm25.search(queries, 3))
    // A bare origin gets /retrieve appended; batches are split and reassembled in order.
    const batched = new HttpRetriever({ url: server.url.replace('/retrieve', ''), batchSize: 7 })
    t.deepEqual(await batched.search(queries, 3), remote)
    t.deepEqual(await client.search([], 3), [])
    // Without scores, Search-R1's server answers bare documents: the client reads both shapes.
    const res = await fetch(server.url, { method: 'POST', body: JSON.stringify({ queries: queries.slice(0, 1), topk: 2 }) })
    const body = (await res.json()) as { result: Array<Array<{ id: string; contents: string }>> }
    t.deepEqual(Object.keys(body.result[0][0]).sort(), ['contents', 'id'])
    // Bad requests are answered 400 with the field, and the client does not retry them.
    const bad = await fetch(server.url, { method: 'POST', body: JSON.stringify({ queries: 'x' }) })
    t.is(bad.status, 400)
    t.regex(((await bad.json()) as { error: string }).error, /field queries/)
    const err = await t.throwsAsync(client.search(['x'], 1000), { instanceOf: RetrieverError })
    t.is(err!.status, 400)
    t.is(err!.attempts, 1)
    t.regex(err!.message, /HTTP 400.*topk: at most 100/)
  } finally {
    await server.close()
  }
})

test('a server that is down gives a clear error after bounded retries', async (t) => {
  const port = await freePort()
  const client = new HttpRetriever({ url: `http://127.0.0.1:${port}/retrieve`, retries: 2, backoffMs: 50 })
  const err = await t.throwsAsync(client.search(['who?'], 3), { instanceOf: RetrieverError })
  t.is(err!.attempts, 3)
  t.regex(err!.message, new RegExp(`POST http://127.0.0.1:${port}/retrieve failed after 3 attempts.*ECONNREFUSED.*is the retrieval server running\\?`))
})

test('a server that hangs times out per attempt, not forever', async (t) => {
  const server = await startRetrievalServer({ retriever: bm25, delayMs: 10_000 })
  try {
    const client = new HttpRetriever({ url: server.url, timeoutMs: 200, retries: 1, backoffMs: 10 })
    // (The server would answer after 10 s; the test's own time-out would catch a client that waited for it.)
    const err = await t.throwsAsync(client.search(['who?'], 3), { instanceOf: RetrieverError })
    t.regex(err!.message, /failed after 2 attempts.*timed out after 200 ms/)
  } finally {
    await server.close()
  }
})

test('the example server process, killed mid-run, fails the client fast with a clear error', async (t) => {
  const script = fileURLToPath(new URL('../../examples/retrieval-server.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--world', '5', '--port', '0', '--delay-ms', '300'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on (\S+)/.exec(out)
      if (m) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)))
  })
  const client = new HttpRetriever({ url, timeoutMs: 2000, retries: 2, backoffMs: 50 })
  // Served by the child: the same passages as the in-process index of the same world.
  t.deepEqual(await client.search(queries.slice(0, 3), 2), await bm25.search(queries.slice(0, 3), 2))
  const pending = client.search(queries, 3)
  setTimeout(() => child.kill('SIGKILL'), 100) // dies while the request is in flight
  const err = await t.throwsAsync(pending, { instanceOf: RetrieverError })
  t.log(err!.message)
  t.regex(err!.message, /failed after 3 attempts.*(ECONNREFUSED|ECONNRESET|other side closed|socket)/i)
})

test('transient failures (503, a dropped connection) are retried with back-off, then succeed', async (t) => {
  let calls = 0
  const stamps: number[] = []
  const flaky = createHttpServer(async (req, res) => {
    calls++
    stamps.push(Date.now())
    if (calls === 1) return void res.writeHead(503).end('busy')
    if (calls === 2) return void req.socket.destroy()
    let body = ''
    for await (const chunk of req) body += chunk
    const { queries: qs, topk } = JSON.parse(body) as { queries: string[]; topk: number }
    const hits = await bm25.search(qs, topk)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ result: hits.map((ps) => ps.map((p) => ({ document: { id: p.id, contents: p.contents }, score: p.score }))) }))
  })
  flaky.listen(0, '127.0.0.1')
  await once(flaky, 'listening')
  try {
    const port = (flaky.address() as { port: number }).port
    const client = new HttpRetriever({ url: `http://127.0.0.1:${port}/retrieve`, retries: 3, backoffMs: 40 })
    t.deepEqual(await client.search(queries.slice(0, 2), 2), await bm25.search(queries.slice(0, 2), 2))
    t.is(calls, 3)
    // Lower bounds only (a sleep never ends early; a loaded machine only makes it longer): the back-off doubles.
    t.true(stamps[1] - stamps[0] >= 35 && stamps[2] - stamps[1] >= 75, `back-off ${stamps[1] - stamps[0]}, ${stamps[2] - stamps[1]} ms`)
  } finally {
    flaky.closeAllConnections()
    await new Promise((r) => flaky.close(r))
  }
})

/** A loopback server answering every request with `answer` (status, headers, body); counts the requests. */
async function rawServer(answer: (res: import('node:http').ServerResponse) => void) {
  const state = { calls: 0 }
  const s = createHttpServer((req, res) => {
    state.calls++
    req.resume()
    answer(res)
  })
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  return {
    url: `http://127.0.0.1:${(s.address() as { port: number }).port}/retrieve`,
    state,
    close: () => {
      s.closeAllConnections()
      return new Promise((r) => s.close(r))
    },
  }
}

const doc = (i: number) => ({ document: { id: `d${i}`, contents: `Title ${i}\ntext ${i}` }, score: 1 / (i + 1) })

test('a response over maxResponseBytes is refused, declared or streamed, without retrying', async (t) => {
  const declared = await rawServer((res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 << 20) })
    res.write('{"result": [[')
  })
  const streamed = await rawServer((res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(`{"result": [[{"id": "x", "contents": "${'y'.repeat(200_000)}"}]]}`)
  })
  try {
    const a = await t.throwsAsync(new HttpRetriever({ url: declared.url, retries: 2, backoffMs: 1 }).search(['q'], 1), { instanceOf: RetrieverError })
    t.regex(a!.message, new RegExp(`answered a body of ${50 << 20} bytes, over maxResponseBytes = ${32 << 20}; ask for fewer queries per request \\(batchSize\\) or a smaller topk`))
    t.is(a!.attempts, 1)
    t.is(declared.state.calls, 1)
    const b = await t.throwsAsync(new HttpRetriever({ url: streamed.url, maxResponseBytes: 100_000, retries: 2 }).search(['q'], 1), { instanceOf: RetrieverError })
    t.regex(b!.message, /answered more than 100000 bytes \(cut after \d+\), over maxResponseBytes = 100000/)
    t.is(streamed.state.calls, 1)
    // The same answer within a larger cap is read.
    t.is((await new HttpRetriever({ url: streamed.url, maxResponseBytes: 300_000 }).search(['q'], 1))[0][0].contents.length, 200_000)
  } finally {
    await declared.close()
    await streamed.close()
  }
})

test('a redirect is refused, not followed: the queries never reach the other server', async (t) => {
  const elsewhere = await rawServer((res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ result: [[doc(0)]] }))
  })
  const moved = await rawServer((res) => {
    res.writeHead(307, { location: elsewhere.url })
    res.end()
  })
  try {
    const e = await t.throwsAsync(new HttpRetriever({ url: moved.url, retries: 2, backoffMs: 1 }).search(['secret query'], 1), { instanceOf: RetrieverError })
    t.is(e!.message, `HttpRetriever: POST ${moved.url} answered a redirect (HTTP 307 to ${elsewhere.url}); redirects are not followed: give the final URL as url`)
    t.is(e!.status, 307)
    t.is(moved.state.calls, 1, 'not retried')
    t.is(elsewhere.state.calls, 0)
  } finally {
    await moved.close()
    await elsewhere.close()
  }
})

test('more documents than topk are refused naming the query, or trimmed to the first topk on request', async (t) => {
  const server = await rawServer((res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ result: [[doc(0), doc(1)], [doc(0), doc(1), doc(2), doc(3), doc(4)]] }))
  })
  try {
    const e = await t.throwsAsync(new HttpRetriever({ url: server.url }).search(['a', 'b'], 2), { instanceOf: RetrieverError })
    t.is(
      e!.message,
      `HttpRetriever: ${server.url} answered 5 documents for query 1 where topk is 2: refused, since the prompt's information budget is sized for topk (extraDocuments: 'trim' keeps the first topk)`,
    )
    const trimmed = await new HttpRetriever({ url: server.url, extraDocuments: 'trim' }).search(['a', 'b'], 2)
    t.deepEqual(trimmed.map((hits) => hits.map((p) => p.id)), [['d0', 'd1'], ['d0', 'd1']])
    t.throws(() => new HttpRetriever({ url: server.url, extraDocuments: 'keep' as 'trim' }), { message: /HttpRetriever: option extraDocuments: Invalid enum value/ })
  } finally {
    await server.close()
  }
})

// Issue 22 B11: a server's answer reaches the rollout loop only with the types it promises; a number as a document's
// contents (which crashed runRollouts: contents.indexOf is not a function) is refused naming the field.
test('a document field of the wrong type is refused naming its place in the answer, in either shape', async (t) => {
  const answers: unknown[] = [
    { result: [[{ document: { id: 1, contents: 12345 } }]] },
    { result: [[{ id: 'x', contents: ['not', 'text'] }]] },
    { result: [[{ document: { id: 'x', contents: 'ok' }, score: 'high' }]] },
    { result: [[{ document: 'a string' }]] },
    { result: [['not an object']] },
  ]
  const expected = [
    /answered an unknown shape at body\.result\.0\.0\.document\.contents: Expected string, received number/,
    /answered an unknown shape at body\.result\.0\.0\.contents: Expected string, received array/,
    /answered an unknown shape at body\.result\.0\.0\.score: Expected number, received string/,
    /answered an unknown shape at body\.result\.0\.0\.document: Expected object, received string/,
    /answered an unknown shape at body\.result\.0\.0: Expected object, received string/,
  ]
  let next = 0
  const server = await rawServer((res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(answers[next++]))
  })
  try {
    for (const re of expected) {
      await t.throwsAsync(new HttpRetriever({ url: server.url, retries: 0 }).search(['q'], 1), { instanceOf: RetrieverError, message: re })
    }
    t.is(server.state.calls, answers.length, 'a malformed answer is not retried')
  } finally {
    await server.close()
  }
})
