// The ways a question can follow a relation (hops), how each is asked and stated, and the graph indexed by hop.
import type { Entity, EntityKind, Fact, RelationName } from './world_types.js'

/** One way of following a relation, from the entity named so far to the next one. */
export interface Hop {
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

export const HOPS: readonly Hop[] = [
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

/** The graph as questions walk it: entities by id, and per hop name the map from entity id to the next entity's id. */
export interface HopIndex {
  byId: Map<string, Entity>
  next: Map<string, Map<string, string>>
}

/** Indexes the facts by hop (each hop is functional by construction; spouse_of is followed both ways). */
export function indexHops(entities: readonly Entity[], facts: readonly Fact[]): HopIndex {
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
  return { byId, next }
}
