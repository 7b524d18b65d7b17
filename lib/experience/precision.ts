/**
 * Retrieval precision of the search-time injection (docs/method.md §2), measured when a HEK is built: the oracle's gold
 * queries of the train questions are replayed through `retrieveForSearch`, and of the cases that fire, the share whose
 * title asks the query's relation (names the relation's query words and no other relation's). A case of another
 * relation tells the policy to do the wrong next thing. This is an evaluation: it reads the generated world's answers
 * (relations, the oracle's queries), which no distiller ever sees.
 */
import { oracleTurns, RELATION_QUERY_WORDS } from '../agent/demonstrations.js'
import { parseAction } from '../agent/tags.js'
import type { QaExample } from '../env/types.js'
import { retrieveForSearch, type HekIndex } from './retrieve.js'
import { withoutSlots } from './roles.js'
import { stemmedTerms } from './text.js'

export interface RetrievalPrecision {
  /** Gold queries replayed (one per hop of every question with a known chain). */
  replayed: number
  /** Of those, queries that got a case (similarity ≥ the threshold). */
  fired: number
  /** Of those, cases whose title asks the query's relation. */
  precise: number
  /** precise / fired; undefined when nothing fired. */
  precision?: number
}

/**
 * The relations a text names outside its role slots: those with a phrase (its query words, or any of a list of
 * phrases) whose stemmed content terms are all in the text. One function for the HEK's retrieval precision and the
 * compare report's case precision (lib/experiments/case_precision.ts), which adds the hops' names and phrasing nouns.
 */
export function relationsNamed(text: string, words: Readonly<Record<string, string | readonly string[]>> = RELATION_QUERY_WORDS): string[] {
  const have = new Set(stemmedTerms(withoutSlots(text)))
  return Object.entries(words)
    .filter(([, w]) =>
      (typeof w === 'string' ? [w] : w).some((phrase) => {
        const t = stemmedTerms(phrase)
        return t.length > 0 && t.every((x) => have.has(x))
      }),
    )
    .map(([r]) => r)
}

export async function retrievalPrecision(hek: HekIndex, questions: readonly QaExample[], options: { minSimilarity?: number } = {}): Promise<RetrievalPrecision> {
  let replayed = 0
  let fired = 0
  let precise = 0
  for (const q of questions) {
    if (!q.chain || !q.relations) continue
    const queries = oracleTurns(q).flatMap((turn) => {
      const a = parseAction(turn)
      return a.kind === 'search' ? [a.query] : []
    })
    for (const [i, query] of queries.entries()) {
      replayed++
      const r = await retrieveForSearch(hek, query, { question: q.question, ...(options.minSimilarity !== undefined && { minSimilarity: options.minSimilarity }) })
      if (r.text === '' || !r.best) continue
      fired++
      const named = relationsNamed(r.best.node.title)
      if (named.length === 1 && named[0] === q.relations[i]) precise++
    }
  }
  return { replayed, fired, precise, ...(fired > 0 && { precision: precise / fired }) }
}

/** The numbers as a HEK's build record holds them (hek.json `build`, `hiexp hek show`, the compare report). */
export function precisionStats(p: RetrievalPrecision): Record<string, number> {
  return {
    retrievalReplayed: p.replayed,
    retrievalFired: p.fired,
    retrievalPrecise: p.precise,
    ...(p.precision !== undefined && { retrievalPrecision: p.precision }),
  }
}
