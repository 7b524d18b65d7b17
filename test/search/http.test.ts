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
  const started = Date.now()
  const err = await t.throwsAsync(client.search(['who?'], 3), { instanceOf: RetrieverError })
  t.true(Date.now() - started < 3000)
  t.is(err!.attempts, 3)
  t.regex(err!.message, new RegExp(`POST http://127.0.0.1:${port}/retrieve failed after 3 attempts.*ECONNREFUSED.*is the retrieval server running\\?`))
})

test('a server that hangs times out per attempt, not forever', async (t) => {
  const server = await startRetrievalServer({ retriever: bm25, delayMs: 10_000 })
  try {
    const client = new HttpRetriever({ url: server.url, timeoutMs: 200, retries: 1, backoffMs: 10 })
    const started = Date.now()
    const err = await t.throwsAsync(client.search(['who?'], 3), { instanceOf: RetrieverError })
    const took = Date.now() - started
    t.true(took >= 400 && took < 2000, `took ${took} ms`)
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
  const started = Date.now()
  const err = await t.throwsAsync(pending, { instanceOf: RetrieverError })
  t.true(Date.now() - started < 3000)
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
    t.true(stamps[1] - stamps[0] >= 35 && stamps[2] - stamps[1] >= 75, `back-off ${stamps[1] - stamps[0]}, ${stamps[2] - stamps[1]} ms`)
  } finally {
    flaky.closeAllConnections()
    await new Promise((r) => flaky.close(r))
  }
})
