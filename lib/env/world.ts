/**
 * The embedded world: a seeded fictional knowledge graph (people, cities, countries, organisations, films, books and the
 * typed relations between them), rendered as a small encyclopedia corpus, with questions of 1 to 4 hops whose gold
 * answers and evidence chains (the passage stating each hop) are known by construction.
 *
 * Every relation followed by a question is functional (a person has one birthplace, an organisation one founder, …) and
 * every name is unique, so each question has exactly one answer; each hop's fact is written in a passage of the entity
 * it starts from, so the chain can be followed by searching for that entity.
 */
import { z } from 'zod'
import type { Passage } from '../search/types.js'
import { Random } from '../util/random.js'
import { stratifiedSplits } from './splits.js'
import type { QaExample, Splits } from './types.js'
import * as W from './names.js'

export type EntityKind = 'person' | 'city' | 'country' | 'organisation' | 'film' | 'book'

export type RelationName =
  | 'born_in'
  | 'spouse_of'
  | 'works_for'
  | 'founded_by'
  | 'headquartered_in'
  | 'directed_by'
  | 'written_by'
  | 'located_in'
  | 'capital_of'

export interface Entity {
  id: string
  kind: EntityKind
  name: string
  /** Occupation of a person, kind of an organisation. */
  attribute?: string
}

/** A typed edge of the graph, between entity ids. `spouse_of` is stored once per couple. */
export interface Fact {
  subject: string
  relation: RelationName
  object: string
}

/** One way of following a relation, from the entity named so far to the next one. */
interface Hop {
  name: string
  relation: RelationName
  from: EntityKind
  to: EntityKind
  /** Noun phrase for a nested hop: "the founder of X". */
  np(x: string): string
  /** Question when it is the last hop: "Who founded X?". */
  ask(x: string): string
  /** The sentence stating the fact, written in a passage of the `from` entity. */
  sentence(from: string, to: string): string
}

const HOPS: Hop[] = [
  {
    name: 'birthplace', relation: 'born_in', from: 'person', to: 'city',
    np: (x) => `the birthplace of ${x}`, ask: (x) => `Where was ${x} born?`, sentence: (a, b) => `${a} was born in ${b}.`,
  },
  {
    name: 'spouse', relation: 'spouse_of', from: 'person', to: 'person',
    np: (x) => `the spouse of ${x}`, ask: (x) => `Who is the spouse of ${x}?`, sentence: (a, b) => `${a} is married to ${b}.`,
  },
  {
    name: 'employer', relation: 'works_for', from: 'person', to: 'organisation',
    np: (x) => `the employer of ${x}`, ask: (x) => `Which organisation does ${x} work for?`,
    sentence: (a, b) => `${a} works for ${b}.`,
  },
  {
    name: 'founder', relation: 'founded_by', from: 'organisation', to: 'person',
    np: (x) => `the founder of ${x}`, ask: (x) => `Who founded ${x}?`, sentence: (a, b) => `${a} was founded by ${b}.`,
  },
  {
    name: 'headquarters', relation: 'headquartered_in', from: 'organisation', to: 'city',
    np: (x) => `the home city of ${x}`, ask: (x) => `In which city is ${x} based?`, sentence: (a, b) => `${a} is based in ${b}.`,
  },
  {
    name: 'director', relation: 'directed_by', from: 'film', to: 'person',
    np: (x) => `the director of ${x}`, ask: (x) => `Who directed ${x}?`, sentence: (a, b) => `${a} is a film directed by ${b}.`,
  },
  {
    name: 'author', relation: 'written_by', from: 'book', to: 'person',
    np: (x) => `the author of ${x}`, ask: (x) => `Who wrote ${x}?`, sentence: (a, b) => `${a} is a book written by ${b}.`,
  },
  {
    name: 'country', relation: 'located_in', from: 'city', to: 'country',
    np: (x) => `the country of ${x}`, ask: (x) => `In which country is ${x}?`, sentence: (a, b) => `${a} is a city in ${b}.`,
  },
  {
    // capital_of(city, country), followed from the country: its page says which city is the capital.
    name: 'capital', relation: 'capital_of', from: 'country', to: 'city',
    np: (x) => `the capital of ${x}`, ask: (x) => `What is the capital of ${x}?`,
    sentence: (a, b) => `The capital of ${a} is ${b}.`,
  },
]

const count = (def: number, max: number) => z.number().int().min(1).max(max).default(def)

export const WorldOptionsSchema = z
  .object({
    seed: z.number().int().default(0),
    countries: count(6, W.COUNTRIES.length),
    cities: count(24, W.PLACE_BASES.length * (1 + W.PLACE_PREFIXES.length + W.PLACE_SUFFIXES.length)),
    people: count(48, W.FIRST_NAMES.length * W.SURNAMES.length),
    organisations: count(16, 200),
    films: count(12, 120),
    books: count(12, 120),
    /** Share of people who are married (to another person of the world). */
    marriedFraction: z.number().min(0).max(1).default(0.6),
    /** Share of people who work for an organisation. */
    employedFraction: z.number().min(0).max(1).default(0.6),
    /** Distractor sentences per entity: other entities (often sharing a name part), visits, praise, features. */
    distractors: z.number().int().min(0).max(6).default(2),
    /** Sentences per passage; an entity with more sentences gets several passages. */
    sentencesPerPassage: z.number().int().min(1).max(20).default(3),
    /** Hop counts to generate questions for. */
    hops: z.array(z.number().int().min(1).max(4)).min(1).default([1, 2, 3, 4]),
    /** Questions per hop count (fewer when the graph has fewer distinct paths of that length). */
    questionsPerHop: z.number().int().min(1).default(250),
    /** Shares of the validation and test splits, taken per hop count; the rest is train. */
    validationFraction: z.number().min(0).max(0.5).default(0.1),
    testFraction: z.number().min(0).max(0.5).default(0.1),
  })
  .strict()
  .refine((o) => o.cities >= o.countries, { message: 'cities must be >= countries (every country has a city)', path: ['cities'] })

export type WorldOptions = z.input<typeof WorldOptionsSchema>
export type ResolvedWorldOptions = z.output<typeof WorldOptionsSchema>

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
  const parsed = WorldOptionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`generateWorld: option ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  const o = parsed.data
  const rng = new Random(o.seed)
  const names = rng.fork('names')
  const rel = rng.fork('relations')
  const text = rng.fork('text')
  const qs = rng.fork('questions')

  // ---- entities -------------------------------------------------------------------------------------------------
  const entities: Entity[] = []
  const used = new Set<string>()
  const add = (kind: EntityKind, name: string, attribute?: string): Entity => {
    if (used.has(name)) throw new Error(`generateWorld: duplicate name ${name}`)
    used.add(name)
    const e: Entity = { id: `${kind}:${entities.filter((x) => x.kind === kind).length}`, kind, name }
    if (attribute !== undefined) e.attribute = attribute
    entities.push(e)
    return e
  }
  // Draw names from a limited subset of parts so that parts repeat across entities.
  const combos = (parts: string[][], n: number): string[] => {
    const all: string[] = []
    const rec = (i: number, acc: string[]) => {
      if (i === parts.length) return void all.push(acc.filter(Boolean).join(' '))
      for (const p of parts[i]) rec(i + 1, [...acc, p])
    }
    rec(0, [])
    const unique = [...new Set(all)].filter((s) => !used.has(s))
    if (unique.length < n) throw new RangeError(`generateWorld: not enough distinct names (${unique.length} < ${n})`)
    return names.shuffle(unique).slice(0, n)
  }
  const subset = (pool: readonly string[], k: number) => names.shuffle(pool).slice(0, Math.min(pool.length, Math.max(1, k)))

  const countries = names.shuffle(W.COUNTRIES).slice(0, o.countries).map((n) => add('country', n))
  const bases = subset(W.PLACE_BASES, Math.ceil(o.cities / 3))
  const cityNames: string[] = []
  {
    const forms = (b: string) => [b, ...W.PLACE_PREFIXES.map((p) => `${p} ${b}`), ...W.PLACE_SUFFIXES.map((s) => `${b} ${s}`)]
    let pool = names.shuffle(bases.flatMap(forms))
    if (pool.length < o.cities) pool = names.shuffle(W.PLACE_BASES.flatMap(forms))
    cityNames.push(...pool.slice(0, o.cities))
  }
  const cities = cityNames.map((n) => add('city', n))
  const firsts = subset(W.FIRST_NAMES, Math.ceil(Math.sqrt(o.people) * 2))
  const lasts = subset(W.SURNAMES, Math.ceil(Math.sqrt(o.people) * 1.5))
  const peopleNames =
    firsts.length * lasts.length >= o.people ? combos([firsts, lasts], o.people) : combos([[...W.FIRST_NAMES], [...W.SURNAMES]], o.people)
  const people = peopleNames.map((n) => add('person', n, names.pick(W.OCCUPATIONS)))
  const surnamesUsed = [...new Set(people.map((p) => p.name.split(' ')[1]))]
  const orgPrefixes = [...surnamesUsed, ...bases]
  const orgs = combos([orgPrefixes, [...W.ORG_KINDS]], o.organisations).map((n) => add('organisation', n, n.split(' ').at(-1)))
  const workNames = combos([['The'], [...W.WORK_ADJECTIVES], [...W.WORK_NOUNS]], o.films + o.books)
  const films = workNames.slice(0, o.films).map((n) => add('film', n))
  const books = workNames.slice(o.films).map((n) => add('book', n))

  // ---- relations ------------------------------------------------------------------------------------------------
  const facts: Fact[] = []
  const fact = (s: Entity, relation: RelationName, ob: Entity) => facts.push({ subject: s.id, relation, object: ob.id })
  const cityCountry = new Map<string, Entity>()
  cities.forEach((c, i) => {
    const country = i < countries.length ? countries[i] : rel.pick(countries)
    cityCountry.set(c.id, country)
    fact(c, 'located_in', country)
  })
  for (const country of countries) {
    const own = cities.filter((c) => cityCountry.get(c.id) === country)
    fact(rel.pick(own), 'capital_of', country)
  }
  for (const p of people) fact(p, 'born_in', rel.pick(cities))
  {
    const order = rel.shuffle(people)
    const couples = Math.floor((order.length * o.marriedFraction) / 2)
    for (let i = 0; i < couples; i++) fact(order[2 * i], 'spouse_of', order[2 * i + 1])
  }
  for (const p of people) if (rel.chance(o.employedFraction)) fact(p, 'works_for', rel.pick(orgs))
  for (const g of orgs) {
    fact(g, 'founded_by', rel.pick(people))
    fact(g, 'headquartered_in', rel.pick(cities))
  }
  for (const f of films) fact(f, 'directed_by', rel.pick(people))
  for (const b of books) fact(b, 'written_by', rel.pick(people))

  // Adjacency per hop: hop name -> from id -> to id (each hop is functional by construction).
  const byId = new Map(entities.map((e) => [e.id, e]))
  const next = new Map<string, Map<string, string>>(HOPS.map((h) => [h.name, new Map()]))
  for (const f of facts) {
    for (const h of HOPS) {
      if (h.relation !== f.relation) continue
      const m = next.get(h.name)!
      if (h.name === 'capital') m.set(f.object, f.subject)
      else {
        m.set(f.subject, f.object)
        if (h.relation === 'spouse_of') m.set(f.object, f.subject)
      }
    }
  }

  // ---- corpus ---------------------------------------------------------------------------------------------------
  interface Sentence {
    text: string
    hop?: string
  }
  const sharesPart = (a: Entity, b: Entity) => a.id !== b.id && a.name.split(' ').some((w) => w !== 'The' && b.name.split(' ').includes(w))
  /** Another entity of the pool, most often one sharing a name part with e; undefined when the pool has no other. */
  const similar = (e: Entity, pool: Entity[]): Entity | undefined => {
    const others = pool.filter((x) => x.id !== e.id)
    if (others.length === 0) return undefined
    const close = others.filter((x) => sharesPart(e, x))
    return text.pick(close.length > 0 && text.chance(0.7) ? close : others)
  }
  const intro = (e: Entity): string => {
    switch (e.kind) {
      case 'person': return `${e.name} is a ${e.attribute}.`
      case 'city': return `${e.name} is a city.`
      case 'country': return `${e.name} is a country.`
      case 'organisation': return `${e.name} is an organisation.`
      case 'film': return `${e.name} is a film.`
      case 'book': return `${e.name} is a book.`
    }
  }
  // Sentences that mention other entities (often similarly named) without stating a relation a question follows.
  const distractor = (e: Entity): string => {
    const works = [...films, ...books]
    const feature = () => `${e.name} is known for its ${text.pick(W.CITY_FEATURES)}.`
    const with_ = (other: Entity | undefined, make: (o: Entity) => string) => (other ? () => make(other) : undefined)
    const options: Array<(() => string) | undefined> = (() => {
      switch (e.kind) {
        case 'person':
          return [
            with_(similar(e, people), (o) => `${e.name} once met ${o.name}.`),
            with_(similar(e, cities), (o) => `${e.name} often visited ${o.name}.`),
            with_(text.pick(works), (o) => `${e.name} admired ${o.name}.`),
          ]
        case 'city':
          return [feature, with_(similar(e, people), (o) => `${o.name} once visited ${e.name}.`)]
        case 'country':
          return [feature, with_(text.pick(people), (o) => `${o.name} once visited ${e.name}.`)]
        case 'organisation':
          return [
            with_(similar(e, orgs), (o) => `${e.name} once worked with ${o.name}.`),
            with_(similar(e, people), (o) => `${e.name} was praised by ${o.name}.`),
          ]
        case 'film':
        case 'book':
          return [
            with_(text.pick(people), (o) => `${e.name} was praised by ${o.name}.`),
            with_(text.pick(cities), (o) => `${e.name} is set in ${o.name}.`),
          ]
      }
    })()
    const usable = options.filter((f): f is () => string => f !== undefined)
    return usable.length > 0 ? text.pick(usable)() : feature()
  }

  const corpus: Passage[] = []
  const pages: Record<string, string[]> = {}
  const factPassage = new Map<string, string>() // `${hop}|${fromId}` -> passage id
  for (const e of entities) {
    const body: Sentence[] = []
    for (const h of HOPS) {
      if (h.from !== e.kind) continue
      const to = next.get(h.name)!.get(e.id)
      if (to !== undefined) body.push({ text: h.sentence(e.name, byId.get(to)!.name), hop: h.name })
    }
    for (let i = 0; i < o.distractors; i++) body.push({ text: distractor(e) })
    const sentences = [{ text: intro(e) }, ...text.shuffle(body)]
    pages[e.id] = []
    for (let i = 0; i < sentences.length; i += o.sentencesPerPassage) {
      const chunk = sentences.slice(i, i + o.sentencesPerPassage)
      const id = String(corpus.length)
      corpus.push({ id, contents: `${e.name}\n${chunk.map((s) => s.text).join(' ')}` })
      pages[e.id].push(id)
      for (const s of chunk) if (s.hop) factPassage.set(`${s.hop}|${e.id}`, id)
    }
  }

  // ---- questions ------------------------------------------------------------------------------------------------
  const byHops = new Map<number, QaExample[]>()
  const maxHops = Math.max(...o.hops)
  const walk = (path: Hop[], chain: Entity[]) => {
    if (path.length > 0 && o.hops.includes(path.length)) {
      let np = chain[0].name
      for (let i = 0; i < path.length - 1; i++) np = path[i].np(np)
      const q: QaExample = {
        id: '',
        question: path[path.length - 1].ask(np),
        goldAnswers: [chain[chain.length - 1].name],
        dataSource: 'hiexp-world',
        taskType: 'multihop',
        hops: path.length,
        evidence: path.map((h, i) => factPassage.get(`${h.name}|${chain[i].id}`)!),
        chain: chain.map((c) => c.name),
        relations: path.map((h) => h.relation),
      }
      if (!byHops.has(path.length)) byHops.set(path.length, [])
      byHops.get(path.length)!.push(q)
    }
    if (path.length === maxHops) return
    const last = chain[chain.length - 1]
    for (const h of HOPS) {
      if (h.from !== last.kind) continue
      const to = next.get(h.name)!.get(last.id)
      if (to === undefined || chain.some((c) => c.id === to)) continue // no cycles: A's spouse's spouse is A
      walk([...path, h], [...chain, byId.get(to)!])
    }
  }
  for (const e of entities) walk([], [e])

  const strata = [...byHops.keys()].sort().map((hops) => {
    const chosen = qs.shuffle(byHops.get(hops)!).slice(0, o.questionsPerHop)
    chosen.forEach((q, i) => (q.id = `world-${o.seed}-${hops}h-${i}`))
    return chosen
  })
  const splits = stratifiedSplits(strata, o.validationFraction, o.testFraction, qs)

  return { options: o, entities, facts, corpus, pages, questions: splits }
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
  return [...world.corpus.map((p) => p.contents), ...qs.map((q) => q.question), ...qs.flatMap((q) => q.goldAnswers)]
}
