// The lookalikeFacts option: each page gains that many true facts of *other* entities, written in the phrasing of a
// fact (most often a person sharing a name part, with a relation the page's own entity has), and nothing else moves.
// Sentences are parsed back with this file's own patterns, an independent reading of the corpus.
import test from 'ava'
import { generateWorld, type World } from '../../lib/env/world.js'

/** The fact phrasings of the world's passages: [relation, pattern with (subject)(object)]. */
const FACT_PATTERNS: Array<[string, RegExp]> = [
  ['born_in', /^(.+) was born in (.+)\.$/],
  ['spouse_of', /^(.+) is married to (.+)\.$/],
  ['works_for', /^(.+) works for (.+)\.$/],
  ['founded_by', /^(.+) was founded by (.+)\.$/],
  ['headquartered_in', /^(.+) is based in (.+)\.$/],
  ['directed_by', /^(.+) is a film directed by (.+)\.$/],
  ['written_by', /^(.+) is a book written by (.+)\.$/],
  ['located_in', /^(.+) is a city in (.+)\.$/],
  ['capital_of', /^The capital of (.+) is (.+)\.$/],
]

interface Stated {
  relation: string
  subject: string
  object: string
}

function parseFact(sentence: string): Stated | undefined {
  for (const [relation, re] of FACT_PATTERNS) {
    const m = re.exec(sentence)
    if (m) return { relation, subject: m[1], object: m[2] }
  }
  return undefined
}

/** Every sentence of each entity's page (all its passages), by entity id. */
function pageSentences(world: World): Map<string, string[]> {
  const byId = new Map(world.corpus.map((p) => [p.id, p.contents.split('\n')[1]]))
  return new Map(Object.entries(world.pages).map(([id, passages]) => [id, passages.flatMap((p) => byId.get(p)!.split(/(?<=\.) /))]))
}

/** Is the stated fact one of the world's facts? (capital_of is stated from the country; spouse_of either way.) */
function isTrue(world: World, s: Stated): boolean {
  const id = new Map(world.entities.map((e) => [e.name, e.id]))
  const [a, b] = [id.get(s.subject), id.get(s.object)]
  if (a === undefined || b === undefined) return false
  return world.facts.some(
    (f) =>
      f.relation === s.relation &&
      ((f.subject === a && f.object === b) ||
        (s.relation === 'spouse_of' && f.subject === b && f.object === a) ||
        (s.relation === 'capital_of' && f.subject === b && f.object === a)),
  )
}

const sharesPart = (a: string, b: string) => a.split(' ').some((w) => w !== 'The' && b.split(' ').includes(w))

test('the default world states no fact of another entity on a page', (t) => {
  const world = generateWorld({ seed: 3 })
  const names = new Map(world.entities.map((e) => [e.id, e.name]))
  let facts = 0
  for (const [id, sentences] of pageSentences(world)) {
    for (const s of sentences) {
      const stated = parseFact(s)
      if (!stated) continue
      facts++
      // A country's page states its capital ("The capital of X is Y"): its subject is the country itself.
      t.is(stated.subject as string | undefined, names.get(id), `${names.get(id)}: "${s}"`)
    }
  }
  t.true(facts > 100, `${facts} fact sentences parsed`)
})

for (const k of [1, 3]) {
  test(`lookalikeFacts ${k}: every page gains ${k} true facts of other entities, most about a look-alike`, (t) => {
    const plain = generateWorld({ seed: 3 })
    const world = generateWorld({ seed: 3, lookalikeFacts: k })
    // The graph and the questions' chains are those of the plain world; only pages grow.
    t.deepEqual(world.entities, plain.entities)
    t.deepEqual(world.facts, plain.facts)
    t.deepEqual(world.questions.train.map((q) => q.chain), plain.questions.train.map((q) => q.chain))
    t.true(world.corpus.length > plain.corpus.length)

    const names = new Map(world.entities.map((e) => [e.id, e.name]))
    const plainPages = pageSentences(plain)
    let lookalikes = 0
    let lookalikeNamed = 0
    let sameRelation = 0
    for (const [id, sentences] of pageSentences(world)) {
      const own = names.get(id)!
      const stated = sentences.map(parseFact).filter((s): s is Stated => s !== undefined)
      const foreign = stated.filter((s) => s.subject !== own)
      const ownFacts = stated.filter((s) => s.subject === own)
      t.is(foreign.length, k, `${own}: ${k} facts of other entities`)
      t.is(ownFacts.length, plainPages.get(id)!.map(parseFact).filter((s) => s?.subject === own).length, `${own}: its own facts are unchanged`)
      for (const s of foreign) {
        t.true(isTrue(world, s), `${own}: "${s.subject} … ${s.object}" (${s.relation}) is a fact of the world`)
        t.not(s.object, own, `${own}: a look-alike fact is not about the page's entity`)
        lookalikes++
        if (sharesPart(own, s.subject)) lookalikeNamed++
        if (ownFacts.some((f) => f.relation === s.relation)) sameRelation++
      }
    }
    // The option's claim: mostly entities sharing a name part, mostly in a phrasing the page's own facts use.
    t.true(lookalikeNamed / lookalikes > 0.6, `${lookalikeNamed}/${lookalikes} share a name part`)
    t.true(sameRelation / lookalikes > 0.8, `${sameRelation}/${lookalikes} repeat a relation of the page's entity`)
  })
}

test('lookalikeFacts out of range is rejected by name', (t) => {
  t.throws(() => generateWorld({ lookalikeFacts: 7 }), { message: /option lookalikeFacts: .*6/ })
  t.throws(() => generateWorld({ lookalikeFacts: -1 }), { message: /option lookalikeFacts/ })
  t.throws(() => generateWorld({ lookalikeFacts: 1.5 }), { message: /option lookalikeFacts: .*integer/ })
})
