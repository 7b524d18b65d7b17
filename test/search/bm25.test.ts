import test from 'ava'
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateWorld } from '../../lib/env/world.js'
import { Bm25Retriever } from '../../lib/search/bm25.js'

const world = generateWorld({ seed: 3 })
const retriever = Bm25Retriever.build(world.corpus)
const singleHop = [...world.questions.train, ...world.questions.validation, ...world.questions.test].filter((q) => q.hops === 1)

async function recallAt(r: Bm25Retriever, k: number): Promise<number> {
  const hits = await r.search(singleHop.map((q) => q.question), k)
  return hits.filter((ps, i) => ps.some((p) => p.id === singleHop[i].evidence![0])).length / singleHop.length
}

test('BM25 finds the gold passage of single-hop questions', async (t) => {
  t.true(singleHop.length >= 100)
  const r3 = await recallAt(retriever, 3)
  const r5 = await recallAt(retriever, 5)
  t.log(`recall@3 ${r3.toFixed(3)}, recall@5 ${r5.toFixed(3)} over ${singleHop.length} questions`)
  t.true(r3 >= 0.95, `recall@3 = ${r3}`)
  t.true(r5 >= 0.97, `recall@5 = ${r5}`)
})

test('BM25 results are ranked, scored, limited to topk and carry the passage', async (t) => {
  const [hits] = await retriever.search(['Who founded the Institute?'], 4)
  t.true(hits.length <= 4)
  for (let i = 1; i < hits.length; i++) t.true(hits[i - 1].score! >= hits[i].score!)
  const byId = new Map(world.corpus.map((p) => [p.id, p.contents]))
  for (const h of hits) t.is(h.contents, byId.get(h.id)!)
  t.deepEqual(await retriever.search([], 3), [])
  t.deepEqual((await retriever.search(['zzzz qqqq'], 3))[0], [])
  await t.throwsAsync(retriever.search(['x'], 0), { instanceOf: RangeError, message: /topk must be an integer >= 1, got 0/ })
  t.throws(() => Bm25Retriever.build([{ id: 'a', contents: 'x' }, { id: 'a', contents: 'y' }]), { message: /passages\[1\]\.id "a" is a duplicate/ })
  t.throws(() => Bm25Retriever.build([], { k1: -1 }), { instanceOf: RangeError, message: /option k1/ })
})

test('a saved index loads back and answers identically; the write is atomic', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-bm25-'))
  const file = join(dir, 'index.json')
  await retriever.save(file)
  t.deepEqual(readdirSync(dir), ['index.json'], 'no temporary file is left behind')
  const loaded = await Bm25Retriever.load(file)
  t.is(loaded.size, world.corpus.length)
  const queries = singleHop.slice(0, 30).map((q) => q.question)
  t.deepEqual(await loaded.search(queries, 5), await retriever.search(queries, 5))
  // A failed write leaves the previous index intact.
  await t.throwsAsync(retriever.save(join(dir, 'missing-folder', 'index.json')))
  t.true(existsSync(file))
  t.deepEqual(readdirSync(dir), ['index.json'])
  await t.throwsAsync(Bm25Retriever.load(join(dir, 'nope.json')), { message: /cannot read/ })
})
