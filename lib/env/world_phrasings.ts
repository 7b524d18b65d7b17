// Question phrasings of the bottleneck world (the `phrasings` option of generateWorld): each hop can be asked in
// several ways while its passage keeps one canonical sentence ("X was born in Y."), so that a query must name the
// passage's word ("born"), not the question's ("hometown"). The last `heldOut` phrasings of every hop are held out of
// the warm start (they appear only in RL-train, validation and test questions); WARM_START_WORDS are phrasings of no
// hop at all, reserved for the advice-reading warm start, where only the advice says which relation they ask for.
import type { Random } from '../util/random.js'
import type { QaExample } from './types.js'
import { HOPS, type Hop } from './world_hops.js'

export interface Phrasing {
  /** `${hop name}/${word}`, e.g. 'birthplace/hometown'; the canonical phrasing's word is the hop's own name. */
  key: string
  hop: string
  /** The word that tells the phrasing apart (a noun, or the hop's name for the canonical phrasing). */
  word: string
  np(x: string): string
  ask(x: string): string
  /** Only in RL-train / validation / test questions, never in the warm start. */
  heldOut: boolean
}

/** Nouns of the non-canonical phrasings of each hop, in order (none of them is a word of the corpus). */
export const PHRASING_NOUNS: Readonly<Record<string, readonly string[]>> = {
  birthplace: ['hometown', 'cradle'],
  spouse: ['partner', 'consort'],
  employer: ['workplace', 'paymaster'],
  founder: ['creator', 'originator'],
  headquarters: ['hub', 'quarters'],
  director: ['filmmaker', 'helmer'],
  author: ['novelist', 'penman'],
  country: ['nation', 'realm'],
  capital: ['metropolis', 'citadel'],
}

/** Phrasing words of no hop: the advice-reading warm start's own (they never appear in a world question). */
export const WARM_START_WORDS = ['keystone', 'emblem', 'beacon', 'pillar', 'compass', 'anchor', 'marker', 'token'] as const

export interface PhrasingOptions {
  /** Phrasings per hop, the canonical one included (1-3). */
  perRelation: number
  /** Of them, how many (the last ones) are held out of the warm start. */
  heldOut: number
}

const hopOf = (name: string): Hop => {
  const h = HOPS.find((x) => x.name === name)
  if (!h) throw new RangeError(`phrasing: unknown hop '${name}'`)
  return h
}

/** A phrasing of `hop` by a noun: "the hometown of X", "Who is the partner of X?" (who for people). */
export function nounPhrasing(hop: string, word: string, heldOut = false): Phrasing {
  const h = hopOf(hop)
  const wh = h.to === 'person' ? 'Who' : 'What'
  return { key: `${hop}/${word}`, hop, word, np: (x) => `the ${word} of ${x}`, ask: (x) => `${wh} is the ${word} of ${x}?`, heldOut }
}

/** Every hop's phrasings: the canonical one first, then its nouns; the last `heldOut` of each are held out. */
export function phrasingTable(o: PhrasingOptions): Map<string, Phrasing[]> {
  const table = new Map<string, Phrasing[]>()
  for (const h of HOPS) {
    const canonical: Phrasing = { key: `${h.name}/${h.name}`, hop: h.name, word: h.name, np: h.np, ask: h.ask, heldOut: false }
    const all = [canonical, ...PHRASING_NOUNS[h.name].slice(0, o.perRelation - 1).map((w) => nounPhrasing(h.name, w))]
    all.forEach((p, i) => (p.heldOut = i >= all.length - o.heldOut))
    table.set(h.name, all)
  }
  return table
}

/** The hop a relation is followed by (one hop per relation). */
export function hopForRelation(relation: string): Hop {
  const h = HOPS.find((x) => x.relation === relation)
  if (!h) throw new RangeError(`phrasing: no hop follows relation '${relation}'`)
  return h
}

/** The question of a chain asked with one phrasing per hop: nested noun phrases, the last hop as the question. */
export function phraseChain(first: string, phrasings: readonly Phrasing[]): string {
  let np = first
  for (let i = 0; i < phrasings.length - 1; i++) np = phrasings[i].np(np)
  return phrasings[phrasings.length - 1].ask(np)
}

/** Draws a phrasing per hop of each question (from `rng` only) and rewrites its text; the keys are kept on the question. */
export function rephraseQuestions(questions: QaExample[], table: ReadonlyMap<string, Phrasing[]>, rng: Random): void {
  for (const q of questions) {
    const chosen = q.relations!.map((r) => rng.pick(table.get(hopForRelation(r).name)!))
    q.question = phraseChain(q.chain![0], chosen)
    q.phrasings = chosen.map((p) => p.key)
    q.heldOutPhrasing = chosen.some((p) => p.heldOut)
  }
}

/** Every text of the phrasings (questions' words, warm-start words), for a word-level vocabulary. */
export function phrasingTexts(table: ReadonlyMap<string, Phrasing[]>): string[] {
  const out: string[] = []
  for (const ps of table.values()) for (const p of ps) out.push(p.ask(p.np('x')))
  for (const h of HOPS) for (const w of WARM_START_WORDS) out.push(nounPhrasing(h.name, w).ask('x'))
  // The canonical phrasing's word is its hop's name (advice names it as the word a failed attempt searched with).
  out.push(HOPS.map((h) => h.name).join(' '))
  return out
}
