/**
 * The embedded world: a seeded fictional knowledge graph (people, cities, countries, organisations, films, books and the
 * typed relations between them), rendered as a small encyclopedia corpus, with questions of 1 to 4 hops whose gold
 * answers and evidence chains (the passage stating each hop) are known by construction.
 *
 * Every relation followed by a question is functional (a person has one birthplace, an organisation one founder, …) and
 * every name is unique, so each question has exactly one answer; each hop's fact is written in a passage of the entity
 * it starts from, so the chain can be followed by searching for that entity.
 *
 * generateWorld runs four steps, each drawing from its own fork of the seed's PRNG (so that one step can change
 * without shifting the random stream of another): the graph (world_graph.ts), the encyclopedia (world_corpus.ts), the
 * questions and splits (world_questions.ts).
 */
import type { Passage } from '../search/types.js'
import { Random } from '../util/random.js'
import type { QaExample, Splits } from './types.js'
import { writeEncyclopedia } from './world_corpus.js'
import { drawEntities, drawFacts } from './world_graph.js'
import { indexHops } from './world_hops.js'
import { parseWorldOptions, type ResolvedWorldOptions, type WorldOptions } from './world_options.js'
import { chooseQuestions, enumerateQuestions } from './world_questions.js'
import { phrasingTable, phrasingTexts, rephraseQuestions } from './world_phrasings.js'
import type { Entity, Fact } from './world_types.js'

export type { Entity, EntityKind, Fact, RelationName } from './world_types.js'
export { WorldOptionsSchema, type WorldOptions, type ResolvedWorldOptions } from './world_options.js'

export interface World {
  options: ResolvedWorldOptions
  entities: Entity[]
  facts: Fact[]
  /** The encyclopedia: Search-R1 layout (`contents` = title line, then text). */
  corpus: Passage[]
  /** Passage ids of each entity's page(s), by entity id. */
  pages: Record<string, string[]>
  questions: Splits<QaExample>
}

/** Generates the world for the given options; the same options (seed included) always give the same world. */
export function generateWorld(options: WorldOptions = {}): World {
  const o = parseWorldOptions(options)
  const rng = new Random(o.seed)
  // The forks are taken in this order whatever the options, so that each step's stream depends only on the seed.
  const [names, relations, text, questions] = ['names', 'relations', 'text', 'questions'].map((label) => rng.fork(label))
  const cast = drawEntities(o, names)
  const facts = drawFacts(o, cast, relations)
  const index = indexHops(cast.entities, facts)
  const { corpus, pages, factPassage } = writeEncyclopedia(o, cast, index, text)
  const splits = chooseQuestions(o, enumerateQuestions(o, cast.entities, index, factPassage), questions)
  // Forked after the others (and only with the option), so that the default world's streams are untouched.
  if (o.phrasings) {
    const phrasings = rng.fork('phrasings')
    const table = phrasingTable(o.phrasings)
    for (const split of [splits.train, splits.validation, splits.test]) rephraseQuestions(split, table, phrasings)
  }
  return { options: o, entities: cast.entities, facts, corpus, pages, questions: splits }
}

/** Every distinct word of the corpus and questions (split on spaces and punctuation), for vocabulary checks. */
export function worldVocabulary(world: World): Set<string> {
  const words = new Set<string>()
  const addAll = (s: string) => {
    for (const w of s.split(/[^A-Za-z0-9]+/)) if (w) words.add(w)
  }
  for (const p of world.corpus) addAll(p.contents)
  for (const split of Object.values(world.questions)) for (const q of split) addAll(q.question)
  return words
}

/** The texts a word-level tokenizer for this world must cover: every passage, question and answer. */
export function worldTexts(world: World): string[] {
  const qs = [...world.questions.train, ...world.questions.validation, ...world.questions.test]
  const phrasings = world.options.phrasings ? phrasingTexts(phrasingTable(world.options.phrasings)) : []
  return [...world.corpus.map((p) => p.contents), ...qs.map((q) => q.question), ...qs.flatMap((q) => q.goldAnswers), ...phrasings]
}
