// The world's entities (names drawn from small pools so that name parts repeat) and the facts between them.
import type { Random } from '../util/random.js'
import * as W from './names.js'
import type { ResolvedWorldOptions } from './world_options.js'
import type { Entity, EntityKind, Fact, RelationName } from './world_types.js'

/** Every entity, and each kind on its own (in creation order). */
export interface Cast {
  entities: Entity[]
  countries: Entity[]
  cities: Entity[]
  people: Entity[]
  organisations: Entity[]
  films: Entity[]
  books: Entity[]
}

/** Draws the entities' names (from `rng` only); every name is unique. */
export function drawEntities(o: ResolvedWorldOptions, rng: Random): Cast {
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
    return rng.shuffle(unique).slice(0, n)
  }
  const subset = (pool: readonly string[], k: number) => rng.shuffle(pool).slice(0, Math.min(pool.length, Math.max(1, k)))

  const countries = rng.shuffle(W.COUNTRIES).slice(0, o.countries).map((n) => add('country', n))
  const bases = subset(W.PLACE_BASES, Math.ceil(o.cities / 3))
  const forms = (b: string) => [b, ...W.PLACE_PREFIXES.map((p) => `${p} ${b}`), ...W.PLACE_SUFFIXES.map((s) => `${b} ${s}`)]
  let cityPool = rng.shuffle(bases.flatMap(forms))
  if (cityPool.length < o.cities) cityPool = rng.shuffle(W.PLACE_BASES.flatMap(forms))
  const cities = cityPool.slice(0, o.cities).map((n) => add('city', n))
  const firsts = subset(W.FIRST_NAMES, Math.ceil(Math.sqrt(o.people) * 2))
  const lasts = subset(W.SURNAMES, Math.ceil(Math.sqrt(o.people) * 1.5))
  const peopleNames =
    firsts.length * lasts.length >= o.people ? combos([firsts, lasts], o.people) : combos([[...W.FIRST_NAMES], [...W.SURNAMES]], o.people)
  const people = peopleNames.map((n) => add('person', n, rng.pick(W.OCCUPATIONS)))
  // Organisations are named after people's surnames and place bases, so that they share name parts with both.
  const surnamesUsed = [...new Set(people.map((p) => p.name.split(' ')[1]))]
  const orgPrefixes = [...surnamesUsed, ...bases]
  const organisations = combos([orgPrefixes, [...W.ORG_KINDS]], o.organisations).map((n) => add('organisation', n, n.split(' ').at(-1)))
  const workNames = combos([['The'], [...W.WORK_ADJECTIVES], [...W.WORK_NOUNS]], o.films + o.books)
  const films = workNames.slice(0, o.films).map((n) => add('film', n))
  const books = workNames.slice(o.films).map((n) => add('book', n))
  return { entities, countries, cities, people, organisations, films, books }
}

/** Draws the facts (from `rng` only): every relation a question follows is functional. */
export function drawFacts(o: ResolvedWorldOptions, cast: Cast, rng: Random): Fact[] {
  const { countries, cities, people, organisations, films, books } = cast
  const facts: Fact[] = []
  const fact = (s: Entity, relation: RelationName, ob: Entity) => facts.push({ subject: s.id, relation, object: ob.id })
  // The first cities give every country one; the others fall in a random country.
  const cityCountry = new Map<string, Entity>()
  cities.forEach((c, i) => {
    const country = i < countries.length ? countries[i] : rng.pick(countries)
    cityCountry.set(c.id, country)
    fact(c, 'located_in', country)
  })
  for (const country of countries) {
    const own = cities.filter((c) => cityCountry.get(c.id) === country)
    fact(rng.pick(own), 'capital_of', country)
  }
  for (const p of people) fact(p, 'born_in', rng.pick(cities))
  const order = rng.shuffle(people)
  const couples = Math.floor((order.length * o.marriedFraction) / 2)
  for (let i = 0; i < couples; i++) fact(order[2 * i], 'spouse_of', order[2 * i + 1])
  for (const p of people) if (rng.chance(o.employedFraction)) fact(p, 'works_for', rng.pick(organisations))
  for (const g of organisations) {
    fact(g, 'founded_by', rng.pick(people))
    fact(g, 'headquartered_in', rng.pick(cities))
  }
  for (const f of films) fact(f, 'directed_by', rng.pick(people))
  for (const b of books) fact(b, 'written_by', rng.pick(people))
  return facts
}
