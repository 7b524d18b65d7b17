// The world's encyclopedia: one page per entity (an intro, the facts it starts, distractor sentences), cut into
// passages, and which passage states each hop's fact.
import type { Passage } from '../search/types.js'
import type { Random } from '../util/random.js'
import * as W from './names.js'
import { HOPS, type Hop, type HopIndex } from './world_hops.js'
import type { Cast } from './world_graph.js'
import type { ResolvedWorldOptions } from './world_options.js'
import type { Entity } from './world_types.js'

export interface Encyclopedia {
  corpus: Passage[]
  /** Passage ids of each entity's page(s), by entity id. */
  pages: Record<string, string[]>
  /** `${hop name}|${from entity id}` → the passage stating that fact. */
  factPassage: Map<string, string>
}

interface Sentence {
  text: string
  hop?: string
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

const sharesPart = (a: Entity, b: Entity) => a.id !== b.id && a.name.split(' ').some((w) => w !== 'The' && b.name.split(' ').includes(w))

/** Sentences that mention other entities (often similarly named) without stating a relation a question follows. */
function distractorWriter(cast: Cast, rng: Random): (e: Entity) => string {
  const { people, cities, organisations, films, books } = cast
  const works = [...films, ...books]
  /** Another entity of the pool, most often one sharing a name part with e; undefined when the pool has no other. */
  const similar = (e: Entity, pool: Entity[]): Entity | undefined => {
    const others = pool.filter((x) => x.id !== e.id)
    if (others.length === 0) return undefined
    const close = others.filter((x) => sharesPart(e, x))
    return rng.pick(close.length > 0 && rng.chance(0.7) ? close : others)
  }
  return (e) => {
    const feature = () => `${e.name} is known for its ${rng.pick(W.CITY_FEATURES)}.`
    const with_ = (other: Entity | undefined, make: (o: Entity) => string) => (other ? () => make(other) : undefined)
    // Every candidate's entity is drawn before one candidate is picked (the draws are part of the seeded stream).
    const options: Array<(() => string) | undefined> = (() => {
      switch (e.kind) {
        case 'person':
          return [
            with_(similar(e, people), (o) => `${e.name} once met ${o.name}.`),
            with_(similar(e, cities), (o) => `${e.name} often visited ${o.name}.`),
            with_(rng.pick(works), (o) => `${e.name} admired ${o.name}.`),
          ]
        case 'city':
          return [feature, with_(similar(e, people), (o) => `${o.name} once visited ${e.name}.`)]
        case 'country':
          return [feature, with_(rng.pick(people), (o) => `${o.name} once visited ${e.name}.`)]
        case 'organisation':
          return [
            with_(similar(e, organisations), (o) => `${e.name} once worked with ${o.name}.`),
            with_(similar(e, people), (o) => `${e.name} was praised by ${o.name}.`),
          ]
        case 'film':
        case 'book':
          return [
            with_(rng.pick(people), (o) => `${e.name} was praised by ${o.name}.`),
            with_(rng.pick(cities), (o) => `${e.name} is set in ${o.name}.`),
          ]
      }
    })()
    const usable = options.filter((f): f is () => string => f !== undefined)
    return usable.length > 0 ? rng.pick(usable)() : feature()
  }
}

/**
 * True facts of other entities of e's kind (most often one sharing a name part with e), in the phrasing of e's own
 * facts where it can: the hard distractor of the lookalikeFacts option. Undefined when e's kind has no other entity
 * with a fact to state.
 */
function lookalikeWriter(cast: Cast, index: HopIndex, rng: Random): (e: Entity) => string | undefined {
  const target = (h: Hop, x: Entity) => index.next.get(h.name)!.get(x.id)
  return (e) => {
    // A fact of x about e itself ("Brin Voss is married to Alda Voss" on Alda's page) would not mislead: left out.
    const facts = (x: Entity) => HOPS.filter((h) => h.from === x.kind && target(h, x) !== undefined && target(h, x) !== e.id)
    const others = cast.entities.filter((x) => x.kind === e.kind && x.id !== e.id && facts(x).length > 0)
    if (others.length === 0) return undefined
    const close = others.filter((x) => sharesPart(e, x))
    const x = rng.pick(close.length > 0 && rng.chance(0.8) ? close : others)
    const hops = facts(x)
    const shared = hops.filter((h) => target(h, e) !== undefined)
    const h = rng.pick(shared.length > 0 ? shared : hops)
    return h.sentence(x.name, index.byId.get(target(h, x)!)!.name)
  }
}

/** Writes every entity's page (from `rng` only): intro first, then its facts and distractors in a shuffled order. */
export function writeEncyclopedia(o: ResolvedWorldOptions, cast: Cast, index: HopIndex, rng: Random): Encyclopedia {
  const distractor = distractorWriter(cast, rng)
  const lookalike = lookalikeWriter(cast, index, rng)
  const corpus: Passage[] = []
  const pages: Record<string, string[]> = {}
  const factPassage = new Map<string, string>()
  for (const e of cast.entities) {
    const body: Sentence[] = []
    for (const h of HOPS) {
      if (h.from !== e.kind) continue
      const to = index.next.get(h.name)!.get(e.id)
      if (to !== undefined) body.push({ text: h.sentence(e.name, index.byId.get(to)!.name), hop: h.name })
    }
    for (let i = 0; i < o.distractors; i++) body.push({ text: distractor(e) })
    for (let i = 0; i < (o.lookalikeFacts ?? 0); i++) {
      const text = lookalike(e)
      if (text !== undefined) body.push({ text })
    }
    const sentences = [{ text: intro(e) }, ...rng.shuffle(body)]
    pages[e.id] = []
    for (let i = 0; i < sentences.length; i += o.sentencesPerPassage) {
      const chunk = sentences.slice(i, i + o.sentencesPerPassage)
      const id = String(corpus.length)
      corpus.push({ id, contents: `${e.name}\n${chunk.map((s) => s.text).join(' ')}` })
      pages[e.id].push(id)
      for (const s of chunk) if (s.hop) factPassage.set(`${s.hop}|${e.id}`, id)
    }
  }
  return { corpus, pages, factPassage }
}
