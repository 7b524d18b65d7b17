// Load test of the retrieval server (issue 22 B6): a BM25 index of 20k synthetic passages served by a process of its
// own; 2000 requests, 50 in flight, of which some are large (at the per-request term limit), some malformed and some
// slow-loris uploads; /health probed throughout; then SIGTERM while a large request is being scored. Reports p50/p99
// latencies by kind, status counts and how long the server took to exit.
//   npx tsx bench/retrieval_load.ts [--passages 20000] [--requests 2000] [--concurrency 50] [--out bench/results/retrieval-load.json]
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Bm25Retriever } from '../lib/search/bm25.js'
import { startRetrievalServer } from '../lib/search/server.js'
import { rng } from '../lib/experience/text.js'
import { writeFileAtomic } from '../lib/util/atomic.js'

const args = new Map<string, string>()
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i], process.argv[i + 1])
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback)

/** A deterministic corpus: passages of 40-80 words drawn from a Zipf-like vocabulary of 8000 words. */
function corpus(n: number) {
  const rand = rng(7)
  const vocab = Array.from({ length: 8000 }, (_, i) => `w${i.toString(36)}`)
  const word = () => vocab[Math.floor(vocab.length * rand() ** 2.5)]
  return Array.from({ length: n }, (_, i) => ({ id: `p${i}`, contents: `Title ${i}\n${Array.from({ length: 40 + Math.floor(rand() * 40) }, word).join(' ')}` }))
}

if (args.has('--serve')) {
  // The server process: the index, the server, SIGTERM handled as `hiexp serve-retrieval` does.
  const retriever = Bm25Retriever.build(corpus(num('--passages', 20000)))
  const server = await startRetrievalServer({ retriever, requestTimeoutMs: 4000, headersTimeoutMs: 2000 })
  console.log(`listening on ${server.url}`)
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
} else {
  await main()
}

async function main() {
  const passages = num('--passages', 20000)
  const total = num('--requests', 2000)
  const concurrency = num('--concurrency', 50)
  const out = args.get('--out') ?? join(dirname(fileURLToPath(import.meta.url)), 'results', 'retrieval-load.json')
  const tsx = import.meta.resolve('tsx')
  const child = spawn(process.execPath, [`--import=${tsx}`, fileURLToPath(import.meta.url), '--serve', '1', '--passages', String(passages)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((ok, fail) => {
    let text = ''
    child.stdout!.on('data', (c: Buffer) => {
      text += c
      const m = /listening on (\S+)/.exec(text)
      if (m) ok(m[1])
    })
    child.on('exit', (code) => fail(new Error(`server exited ${code}`)))
  })
  const { hostname, port } = new URL(url)
  const rand = rng(11)
  const words = () => Array.from({ length: 2 + Math.floor(rand() * 6) }, () => `w${Math.floor(8000 * rand() ** 2.5).toString(36)}`).join(' ')
  type Kind = 'normal' | 'large' | 'malformed' | 'slow-loris'
  const kinds: Kind[] = Array.from({ length: total }, (_, i) => (i % 100 < 90 ? 'normal' : i % 100 < 94 ? 'large' : i % 100 < 97 ? 'malformed' : 'slow-loris'))
  const latency: Record<Kind | 'health', number[]> = { normal: [], large: [], malformed: [], 'slow-loris': [], health: [] }
  const statuses: Record<string, number> = {}
  const count = (k: string) => (statuses[k] = (statuses[k] ?? 0) + 1)

  const post = async (body: string) => {
    const res = await fetch(url, { method: 'POST', body })
    await res.arrayBuffer()
    return res.status
  }
  const slowLoris = () =>
    new Promise<string>((ok) => {
      // Headers, then one byte of a 2000-byte body every 250 ms: the server's request time-out must cut it.
      const s = connect(Number(port), hostname, () => {
        s.write(`POST /retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n`)
        const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write('{')), 250)
        let reply = ''
        s.on('data', (d) => (reply += d))
        s.on('close', () => {
          clearInterval(timer)
          ok(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? 'closed')
        })
        s.on('error', () => {})
      })
    })
  const one = async (kind: Kind) => {
    const t0 = performance.now()
    let status: string
    try {
      if (kind === 'normal') status = String(await post(JSON.stringify({ queries: Array.from({ length: 1 + Math.floor(rand() * 8) }, words), topk: 5, return_scores: true })))
      else if (kind === 'large') status = String(await post(JSON.stringify({ queries: Array.from({ length: 8 }, () => Array.from({ length: 16 }, words).join(' ').split(' ').slice(0, 64).join(' ')), topk: 5 })))
      else if (kind === 'malformed') status = String(await post(rand() < 0.5 ? '{"queries": [1, 2' : JSON.stringify({ queries: 'not a list', topk: -1 })))
      else status = await slowLoris()
    } catch (e) {
      status = `error ${(e as Error).message}`
    }
    latency[kind].push(performance.now() - t0)
    count(`${kind} ${status}`)
  }

  const started = performance.now()
  let stop = false
  const base = url.replace(/\/retrieve$/, '')
  const prober = (async () => {
    while (!stop) {
      const t0 = performance.now()
      try {
        const r = await fetch(`${base}/health`)
        await r.arrayBuffer()
        latency.health.push(performance.now() - t0)
      } catch {
        count('health error')
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < kinds.length) await one(kinds[next++])
  }))
  const wallSeconds = (performance.now() - started) / 1000
  stop = true
  await prober

  // SIGTERM while large requests are being scored: how long until the server is gone.
  const inflight = Array.from({ length: 4 }, () => post(JSON.stringify({ queries: Array.from({ length: 32 }, () => Array.from({ length: 64 }, () => words().split(' ')[0]).join(' ')) })).catch(() => 'cut'))
  await new Promise((r) => setTimeout(r, 50))
  const t0 = performance.now()
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
  const sigtermExitMs = performance.now() - t0
  await Promise.all(inflight)

  const pct = (xs: number[], p: number) => {
    if (xs.length === 0) return null
    const s = [...xs].sort((a, b) => a - b)
    return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10
  }
  const summary = Object.fromEntries(Object.entries(latency).map(([k, xs]) => [k, { n: xs.length, p50Ms: pct(xs, 50), p99Ms: pct(xs, 99), maxMs: pct(xs, 100) }]))
  const result = { passages, requests: total, concurrency, wallSeconds: Math.round(wallSeconds * 10) / 10, latency: summary, statuses, sigtermExitMs: Math.round(sigtermExitMs), node: process.version }
  console.log(JSON.stringify(result, null, 2))
  writeFileAtomic(out, JSON.stringify(result, null, 2) + '\n')
  console.error(`wrote ${out}`)
}
