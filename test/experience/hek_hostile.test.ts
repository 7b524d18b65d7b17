// Issue 22 (hostile inputs, round three) for the HEK and its embedders: B1 (a loaded HEK retrieves exactly as the live
// one), B4 (a HEK file never chooses where questions and API keys go), B5 (the embeddings endpoint's replies are
// bounded in time and size), B14 (the embedder state and every embedding reply are checked).
import test from 'ava'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ContrastiveAnalyzer } from '../../lib/experience/analyzer.js'
import { OpenAIEmbedder } from '../../lib/experience/embed.js'
import { HierarchicalExperience } from '../../lib/experience/hek.js'
import { writeHekPictures } from '../../lib/experience/show.js'
import { runScript } from '../helpers/run_child.js'
import { plantedGroups, sampleExperiences } from './helpers.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

const dir = () => mkdtempSync(join(tmpdir(), 'hiexp-hek-hostile-'))

/** Questions over the planted groups' vocabulary and beyond it: ties and near-ties of cosines included. */
const QUESTIONS = [
  ...Array.from({ length: 12 }, (_, i) => `Who founded Company${i} and where was Person${i} Smith born?`),
  'Which entity should I search first?',
  'search the company founder then the birthplace',
  'answer only after reading the results',
  'What is the capital of the country of the founder?',
  'completely unrelated words here',
  '',
  'Company3 Company4 founder birthplace answer',
]

test('B1: a saved and loaded HEK embeds every question to the same vector and retrieves the same, in the same order', async (t) => {
  const live = await HierarchicalExperience.build(await new ContrastiveAnalyzer().distill(plantedGroups()))
  const file = join(dir(), 'hek.json')
  live.save(file)
  const loaded = HierarchicalExperience.load(file)
  t.deepEqual(loaded.toJSON().embedder, live.toJSON().embedder, 'the saved embedder state is the one in use')
  for (const q of QUESTIONS) {
    t.deepEqual(Array.from(await loaded.embedQuery(q)), Array.from(await live.embedQuery(q)), q)
    const a = await live.retrieveForPrompt(q)
    const b = await loaded.retrieveForPrompt(q)
    t.deepEqual(b.items.map((x) => [x.node.id, x.similarity]), a.items.map((x) => [x.node.id, x.similarity]), q)
    t.is(b.text, a.text, q)
    t.deepEqual(await loaded.retrieveForSearch(q), await live.retrieveForSearch(q), q)
  }
})

interface Seen {
  url: string
  authorization: string | undefined
}

/** An embeddings endpoint that records who asked and answers vectors of `dim()` numbers (or what `reply` sends). */
async function embeddingsServer(dim: () => number, reply?: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization })
      if (reply?.(req, res)) return
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: string[] }
      const data = body.input.map((text, index) => ({ object: 'embedding', index, embedding: Array.from({ length: dim() }, (_, k) => ((text.length * (k + 3)) % 11) + 1) }))
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data, model: 'emb' }))
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  return {
    baseURL,
    seen,
    close: () => new Promise<void>((ok) => (server.closeAllConnections(), server.close(() => ok()))),
  }
}

test('B4: a HEK file naming an endpoint is refused unless the caller gives one; questions and keys go only to the caller\'s endpoint', async (t) => {
  const honest = await embeddingsServer(() => 8)
  const attacker = await embeddingsServer(() => 8)
  const saved = process.env.OPENAI_API_KEY
  process.env.OPENAI_API_KEY = 'sk-secret-of-the-user'
  try {
    const hek = await HierarchicalExperience.build(sampleExperiences(), { embedder: new OpenAIEmbedder({ baseURL: honest.baseURL, model: 'emb', apiKey: 'k-build' }) })
    t.is(hek.file.embedder.dim, 8)
    // A shared file whose embedder points at someone else's host.
    const json = JSON.parse(JSON.stringify(hek.toJSON()))
    json.embedder.baseURL = attacker.baseURL
    const file = join(dir(), 'shared-hek.json')
    writeFileSync(file, JSON.stringify(json))

    const e = t.throws(() => HierarchicalExperience.load(file))
    t.regex(e!.message, /shared-hek\.json embeds with an OpenAI-compatible endpoint \(it names "http:\/\/127\.0\.0\.1:\d+\/v1", model "emb"\)/)
    t.regex(e!.message, /never chooses where questions and API keys are sent: pass the endpoint yourself, HierarchicalExperience\.load\(file, \{ embeddingEndpoint: \{ baseURL/)
    t.throws(() => HierarchicalExperience.fromJSON(json, 'shared'), { message: /shared embeds with an OpenAI-compatible endpoint/ })

    // The caller's endpoint, no key given: the environment's key is not sent to it either.
    const before = honest.seen.length
    const mine = HierarchicalExperience.load(file, { embeddingEndpoint: { baseURL: honest.baseURL } })
    const r = await mine.retrieveForPrompt('Which entity should I search first?')
    t.true(r.items.length > 0)
    t.true(honest.seen.length > before)
    t.deepEqual([...new Set(honest.seen.slice(before).map((s) => s.authorization))], ['Bearer none'])
    // With a key: that key, to that endpoint only.
    const keyed = HierarchicalExperience.load(file, { embeddingEndpoint: { baseURL: honest.baseURL, apiKey: 'k-mine' } })
    await keyed.retrieveForSearch('search the entity')
    t.is(honest.seen.at(-1)!.authorization, 'Bearer k-mine')
    t.is(attacker.seen.length, 0, 'the host the file names never heard from us')
    t.false(honest.seen.some((s) => s.authorization?.includes('sk-secret')))
  } finally {
    if (saved === undefined) delete process.env.OPENAI_API_KEY
    else process.env.OPENAI_API_KEY = saved
    await honest.close()
    await attacker.close()
  }
})

test('B5: an embeddings reply that never ends, or is too large, fails within the time-out with an error naming the endpoint', async (t) => {
  const slow = await embeddingsServer(
    () => 4,
    (_req, res) => {
      // Headers at once, then one byte every 200 ms, forever.
      res.writeHead(200, { 'content-type': 'application/json' })
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 200)
      res.on('close', () => clearInterval(timer))
      return true
    },
  )
  const huge = await embeddingsServer(
    () => 4,
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(`{"data":[{"index":0,"embedding":[${'1,'.repeat(600_000)}1]}]}`)
      return true
    },
  )
  try {
    const endless = new OpenAIEmbedder({ baseURL: slow.baseURL, model: 'emb', timeoutMs: 600 })
    const e1 = await t.throwsAsync(endless.embed(['a question']))
    t.regex(e1!.message, new RegExp(`the embeddings endpoint ${slow.baseURL.replace(/[.:/]/g, '\\$&')} failed: .*still arriving 600 ms after the request`))
    const big = new OpenAIEmbedder({ baseURL: huge.baseURL, model: 'emb', maxReplyBytes: 1 << 20 })
    const e2 = await t.throwsAsync(big.embed(['a question']))
    t.regex(e2!.message, /failed: the reply (is|declares \d+ bytes,) over the cap of 1048576 bytes \(maxReplyBytes\)/)
  } finally {
    await slow.close()
    await huge.close()
  }
})

test('B14: an embedder state that is short, not finite or of another dimension is refused on load, naming the field', async (t) => {
  const hek = await HierarchicalExperience.build(sampleExperiences())
  const good = JSON.parse(JSON.stringify(hek.toJSON()))
  t.is(good.embedder.kind, 'tfidf-svd')
  const d = dir()
  const write = (name: string, text: string) => {
    const p = join(d, name)
    writeFileSync(p, text)
    return p
  }
  const edited = (change: (f: typeof good) => void) => {
    const f = JSON.parse(JSON.stringify(good))
    change(f)
    return JSON.stringify(f)
  }
  const cases: Array<[string, string, RegExp]> = [
    ['short-components.json', edited((f) => f.embedder.components.splice(5)), /embedder\.components has 5 numbers, expected dim × vocabulary = \d+ × \d+/],
    ['short-idf.json', edited((f) => f.embedder.idf.splice(3)), /embedder\.idf has 3 numbers, the vocabulary has \d+ terms/],
    ['big-dim.json', edited((f) => (f.embedder.dim = f.embedder.vocabulary.length + 1)), /embedder\.dim is \d+, more than the vocabulary's \d+ terms/],
    ['repeated-term.json', edited((f) => (f.embedder.vocabulary[1] = f.embedder.vocabulary[0])), /embedder\.vocabulary repeats a term/],
    // 1e999 is legal JSON and reads as Infinity.
    ['infinite-vector.json', JSON.stringify(good).replace(/"vector":\[[-0-9.e]+/, '"vector":[1e999'), /nodes\.0\.vector\.0: Number must be finite/],
    ['infinite-idf.json', JSON.stringify(good).replace(/"idf":\[[-0-9.e]+/, '"idf":[-1e999'), /embedder\.idf\.0: Number must be finite/],
  ]
  for (const [name, text, re] of cases) {
    const e = t.throws(() => HierarchicalExperience.load(write(name, text)), undefined, name)
    t.regex(e!.message, re, name)
    t.true(e!.message.includes(name), `${name}: the message names the file`)
  }
})

test('B14: an endpoint that answers vectors of other dimensions than the HEK\'s, or the wrong count, is refused on every reply', async (t) => {
  let dim = 8
  let extra = false
  const server = await embeddingsServer(() => dim, (req, res) => {
    if (!extra) return false
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 2, 3, 4, 5, 6, 7, 8] }, { index: 1, embedding: [1, 2, 3, 4, 5, 6, 7, 8] }] }))
    return true
  })
  try {
    const hek = await HierarchicalExperience.build(sampleExperiences(), { embedder: new OpenAIEmbedder({ baseURL: server.baseURL, model: 'emb' }) })
    const file = join(dir(), 'hek.json')
    hek.save(file)
    const loaded = HierarchicalExperience.load(file, { embeddingEndpoint: { baseURL: server.baseURL } })
    dim = 3
    await t.throwsAsync(loaded.retrieveForPrompt('a question'), { message: /answered a vector of 3 numbers for input 0, expected 8 \(the embedder's dimensions\)/ })
    await t.throwsAsync(hek.retrieveForSearch('a query'), { message: /answered a vector of 3 numbers for input 0, expected 8/ })
    dim = 8
    extra = true
    await t.throwsAsync(loaded.retrieveForPrompt('a question'), { message: /answered 2 embeddings \(indices 0, 1\) for 1 inputs/ })
    t.is(JSON.parse(readFileSync(file, 'utf8')).embedder.dim, 8)
  } finally {
    await server.close()
  }
})

/** Distinct cases, more than a dendrogram picture is drawn for. */
function manyCases(n: number) {
  const words = ['entity', 'bridge', 'answer', 'search', 'relation', 'name', 'film', 'city', 'founder', 'spouse', 'country', 'book']
  return Array.from({ length: n }, (_, i) => ({
    id: `c${i}`,
    title: `case ${i}: ${words[i % 12]} then ${words[(i * 7) % 12]} w${i}`,
    text: `When the question asks for the ${words[i % 12]} of the ${words[(i * 5) % 12]}, search w${i} first.`,
    kind: i % 2 ? ('success-pattern' as const) : ('failure-pattern' as const),
    when: 'multi-hop questions',
    taskType: 'multihop',
    support: 1 + (i % 5),
    successRate: (i % 10) / 10,
    sources: [`t${i}`],
  }))
}

test('B7: a HEK of more than 2000 cases is built and saved; its dendrogram picture is skipped with a line, never an error', async (t) => {
  const d = dir()
  const experiences = join(d, 'experiences.json')
  writeFileSync(experiences, JSON.stringify(manyCases(2001)))
  const out = join(d, 'big-hek.json')
  const ran = await runScript(join(ROOT, 'lib', 'cli.ts'), ['build-hek', '-e', experiences, '-o', out], { cwd: ROOT })
  t.is(ran.code, 0, ran.output)
  t.regex(ran.output, /hiexp: the dendrogram picture of .*big-hek is skipped: the HEK has 2001 cases, more than the 2000 a dendrogram is drawn for/)
  t.regex(ran.output, /HEK of 2001 experiences -> .*big-hek\.json \(.*big-hek-tree\.svg, .*big-hek-tree\.png\)/)
  const hek = HierarchicalExperience.load(out)
  t.is(hek.level(0).length, 2001)
  const lines: string[] = []
  t.deepEqual(writeHekPictures(hek, join(d, 'again'), { log: (l) => lines.push(l) }), [join(d, 'again-tree.svg'), join(d, 'again-tree.png')])
  t.is(lines.length, 1)
  t.false(existsSync(join(d, 'again-dendrogram.svg')))
})
