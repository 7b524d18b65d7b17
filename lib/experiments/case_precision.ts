// Retrieval precision of the search-time injection on evaluated rollouts: of the search calls that got a case with
// their documents, the share whose case is about the relation the call's hop follows. A case's subject is its title,
// the query it was distilled at, which its text opens with ("After searching <title>, …" / "… first searched <title>;").
import { RELATION_QUERY_WORDS } from '../agent/demonstrations.js'
import type { Rollout } from '../agent/rollout.js'
import type { QaExample } from '../env/types.js'
import { PHRASING_NOUNS, hopForRelation } from '../env/world_phrasings.js'
import { HOPS } from '../env/world_hops.js'
import { relationsNamed } from '../experience/precision.js'

/** What names each relation in a query: its passage words, its hop's name and its phrasing nouns. */
const RELATION_PHRASES: Record<string, string[]> = Object.fromEntries(HOPS.map((h) => [h.relation, [RELATION_QUERY_WORDS[h.relation], h.name, ...PHRASING_NOUNS[h.name]]]))

/** The relation a query or a case title names, if it names exactly one. */
export function relationNamed(text: string): string | undefined {
  const named = relationsNamed(text, RELATION_PHRASES)
  return named.length === 1 ? named[0] : undefined
}

/** The title a case line opens with. */
export function caseTitle(line: string): string {
  const t = line.replace(/^Experience:\s*/, '')
  const after = /^After searching (.*?), the successful attempt/.exec(t)
  if (after) return after[1]
  const first = /first searched (.*?);/.exec(t)
  return first ? first[1] : t
}

export interface CasePrecision {
  /** Search calls that got a case. */
  fired: number
  searchCalls: number
  /** Share of fired cases about the hop's relation (NaN when none fired). */
  precision: number
}

/** `examples[i]` is the question of `rollouts[i]`; the k-th search of a rollout runs hop k of its question. */
export function casePrecision(rollouts: readonly Rollout[], examples: readonly QaExample[]): CasePrecision {
  let fired = 0
  let right = 0
  let calls = 0
  rollouts.forEach((r, i) => {
    const relations = examples[i].relations ?? []
    let k = 0
    for (const t of r.turns) {
      if (t.infoSpan === undefined) continue
      calls++
      if (t.experience) {
        fired++
        const gold = relations[k]
        if (gold !== undefined && hopForRelation(gold) && relationNamed(caseTitle(t.experience)) === gold) right++
      }
      k++
    }
  })
  return { fired, searchCalls: calls, precision: fired === 0 ? NaN : right / fired }
}
