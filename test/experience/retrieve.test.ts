// The paper's two injection points (lib/experience/retrieve.ts) on a HEK whose similarities are given, so that the
// rules are checked apart from any embedder.
import test from 'ava'
import { PROMPT_MIN_SIMILARITY, retrieveForPrompt, type HekIndex } from '../../lib/experience/retrieve.js'
import type { HekNode } from '../../lib/experience/hek_schema.js'
import { parseTrainConfig } from '../../lib/train/config.js'
import { relationsNamed, retrievalPrecision } from '../../lib/experience/precision.js'
import type { QaExample } from '../../lib/env/types.js'
import { HierarchicalExperience } from '../../lib/experience/hek.js'

function node(id: string, level: number, text: string, support = 1): HekNode {
  return {
    id, level, type: level === 0 ? 'E1' : level === 1 ? 'E2' : 'E3', title: text, tags: [], text, thinking: '', kind: 'success-pattern',
    when: 'any question', taskType: 'multihop', support, successRate: 1, parent: null, children: [], sources: [], terms: [], vector: [],
  }
}

/** A HEK of fixed similarities: `sims[id]` whatever the text asked. */
function fixedHek(levels: HekNode[][], sims: Record<string, number>): HekIndex {
  return {
    levelCount: levels.length,
    level: (l) => levels[l],
    node: (id) => levels.flat().find((n) => n.id === id),
    embedQuery: async () => new Float32Array([1]),
    similarities: async (_q, l) => levels[l].map((n) => ({ node: n, similarity: sims[n.id] })),
    questionSimilarities: async (_q, l) => levels[l].map((n) => ({ node: n, similarity: sims[n.id] })),
  }
}

const levels = [
  [node('c0', 0, 'a case')],
  [node('p0', 1, 'Search the entity of the question first.'), node('p1', 1, 'Do not answer before any search.'), node('p2', 1, 'Repeat the last query.')],
  [node('s0', 2, 'Follow the chain one hop at a time.')],
]

test('prompt retrieval has a similarity floor (default 0.3): items below it are not injected, and the slot may stay empty', async (t) => {
  t.is(PROMPT_MIN_SIMILARITY, 0.3)
  const hek = fixedHek(levels, { c0: 0.99, p0: 0.62, p1: 0.31, p2: 0.004, s0: 0.29 })
  const r = await retrieveForPrompt(hek, 'Where was the founder of Brisk Bay born?')
  t.deepEqual(r.items.map((x) => x.node.id), ['p0', 'p1'], 'the top 5 would have taken p2 at 0.004 and s0 at 0.29')
  t.false(r.text.includes('Repeat the last query'))

  const none = await retrieveForPrompt(fixedHek(levels, { c0: 1, p0: 0.2, p1: 0.1, p2: 0.004, s0: 0.05 }), 'q')
  t.deepEqual(none.items, [])
  t.is(none.text, '')
  t.is(none.tokens, 0)

  // -1 is the paper's rule (always the top k, whatever their similarity).
  const all = await retrieveForPrompt(hek, 'q', { minSimilarity: -1 })
  t.deepEqual(all.items.map((x) => x.node.id), ['p0', 'p1', 's0', 'p2'])
  await t.throwsAsync(() => retrieveForPrompt(hek, 'q', { minSimilarity: Number.NaN }), { instanceOf: RangeError, message: /options\.minSimilarity must be a number/ })
})

test('the run configuration carries the prompt floor (experience.promptMinSimilarity) and checks it', (t) => {
  t.is(parseTrainConfig({}).experience.promptMinSimilarity, 0.3)
  t.is(parseTrainConfig({ experience: { promptMinSimilarity: 0.5 } }).experience.promptMinSimilarity, 0.5)
  t.throws(() => parseTrainConfig({ experience: { promptMinSimilarity: 2 } }), { message: /experience\.promptMinSimilarity/ })
})

test('retrieval precision: of the gold queries replayed, the share whose fired case asks the query\'s relation', async (t) => {
  const born = node('born', 0, "[the question's entity] born")
  const both = node('both', 0, '[a name found in the results] founded born')
  const questions: QaExample[] = [
    { id: 'a', question: 'Where was Alda Voss born?', goldAnswers: ['Calder Falls'], dataSource: 'x', taskType: 'multihop', hops: 1, chain: ['Alda Voss', 'Calder Falls'], relations: ['born_in'] },
    { id: 'b', question: 'Where was the founder of Brisk Bay born?', goldAnswers: ['Eld'], dataSource: 'x', taskType: 'multihop', hops: 2, chain: ['Brisk Bay', 'Ola Penn', 'Eld'], relations: ['founded_by', 'born_in'] },
    { id: 'c', question: 'What is 2 + 2?', goldAnswers: ['4'], dataSource: 'x', taskType: 'arithmetic' },
  ]
  // Every query fires the 'born' case: precise for the two born_in hops, not for the founded_by one.
  const p = await retrievalPrecision(fixedHek([[born, both]], { born: 0.9, both: 0.5 }), questions)
  t.deepEqual(p, { replayed: 3, fired: 3, precise: 2, precision: 2 / 3 })
  // A case that names two relations is precise for neither; below the threshold nothing fires.
  t.deepEqual(await retrievalPrecision(fixedHek([[born, both]], { born: 0.1, both: 0.85 }), questions), { replayed: 3, fired: 3, precise: 0, precision: 0 })
  t.deepEqual(await retrievalPrecision(fixedHek([[born, both]], { born: 0.1, both: 0.2 }), questions), { replayed: 3, fired: 0, precise: 0 })
  t.deepEqual(relationsNamed('[the name found in step 1] city in'), ['located_in'])
})

test('a search-time case matches on the question as well as the query: a look-alike query of another question type does not fire it', async (t) => {
  const caseOf = (id: string, question: string, title: string) => ({
    id, type: 'E1' as const, title, question, text: `After searching ${title}, the successful attempt searched the next name.`,
    kind: 'success-pattern' as const, when: '2-hop questions', taskType: 'multihop', support: 4, successRate: 0.5, sources: [id],
  })
  const founder = caseOf('founder', "Where was the founder of [the question's entity] born?", "[the question's entity] founded")
  const spouse = caseOf('spouse', "Which organisation does the spouse of [the question's entity] work for?", "[the question's entity] married")
  const fitTexts = ['Where was the founder of Brisk Bay born?', 'Which organisation does the spouse of Alda Voss work for?', 'Brisk Bay was founded by Ola Penn.', 'Alda Voss is married to Cato Wick.']
  const hek = await HierarchicalExperience.build([founder, spouse], { levels: 1, fitTexts })
  const own = (await hek.retrieveForSearch('Brisk Bay founded', { question: 'Where was the founder of Brisk Bay born?' })).best
  t.is(own?.node.id, 'founder')
  t.true(own!.similarity >= 0.8)
  // The same query asked for a question of the other type: its title matches one case, its question the other.
  const other = await hek.retrieveForSearch('Brisk Bay founded', { question: 'Which organisation does the spouse of Brisk Bay work for?' })
  t.is(other.text, '')
  t.true(other.best!.similarity < 0.8)
})
