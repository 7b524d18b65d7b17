/**
 * The advice-reading warm start of the bottleneck world (task.world.phrasings): the same for every method, on train
 * questions only. Each demonstration re-asks a train question's chain in phrasings the warm start may show (never a
 * held-out one). With probability `adviceShare` one hop is asked by a word reserved for the warm start
 * (WARM_START_WORDS), which says nothing about the relation by itself: the relation's query word is only in the advice,
 * a case line in the distillers' format, shown among irrelevant lines about other reserved words, in the prompt slot
 * or (for a later hop) with the documents of the search before it. The oracle's query for that hop is the one the
 * advice names. The other demonstrations have an empty slot and no search-time line.
 */
import { hopForRelation, nounPhrasing, phraseChain, WARM_START_WORDS, type Phrasing } from '../env/world_phrasings.js'
import type { QaExample } from '../env/types.js'
import { adviceLine, queryWordOf, renderAdvice } from '../experience/advice.js'
import { RELATION_QUERY_WORDS } from '../agent/demonstrations.js'
import type { Random } from '../util/random.js'

export interface AdvisedPlan {
  /** The demonstrations' questions (re-asked copies of the given ones). */
  examples: QaExample[]
  /** Prompt slot of each ('' = empty). */
  experiences: string[]
  /** Search-time line after each search of each ('' = none). */
  searchLines: string[][]
  /** Which hop the advice is about (undefined: no advice). */
  advisedHop: (number | undefined)[]
}

/** Irrelevant advice lines shown beside the relevant one. */
export const IRRELEVANT_LINES = 2

/** Plans the warm start's demonstrations of `questions` (chains needed) from the phrasing table, drawing from `rng` only. */
export function planAdvisedWarmStart(questions: readonly QaExample[], table: ReadonlyMap<string, Phrasing[]>, adviceShare: number, rng: Random): AdvisedPlan {
  const plan: AdvisedPlan = { examples: [], experiences: [], searchLines: [], advisedHop: [] }
  const allWords = Object.values(RELATION_QUERY_WORDS)
  for (const q of questions) {
    const relations = q.relations ?? []
    if (!q.chain || relations.length === 0 || relations.length !== q.chain.length - 1) {
      throw new RangeError(`warm start: question ${q.id} has no gold chain (the advised warm start needs the generated world's chains)`)
    }
    const hops = relations.map((r) => hopForRelation(r).name)
    const phrasings = hops.map((h) => rng.pick(table.get(h)!.filter((p) => !p.heldOut)))
    let experiences = ''
    const lines = relations.map(() => '')
    let advised: number | undefined
    if (rng.chance(adviceShare)) {
      const i = rng.int(0, relations.length - 1)
      const word = rng.pick(WARM_START_WORDS)
      phrasings[i] = nounPhrasing(hops[i], word)
      const previous = (j: number) => (j > 0 ? { previousWord: queryWordOf(relations[j - 1]) } : {})
      const relevant = adviceLine({ hop: i, queryWord: queryWordOf(relations[i]), failedWord: word, ...previous(i) })
      const others = rng.shuffle(WARM_START_WORDS.filter((w) => w !== word)).slice(0, IRRELEVANT_LINES)
      const irrelevant = others.map((w) => {
        const j = rng.int(0, relations.length - 1)
        return adviceLine({ hop: j, queryWord: rng.pick(allWords), failedWord: w, ...(j > 0 ? { previousWord: rng.pick(allWords) } : {}) })
      })
      // A later hop's advice comes with the documents of the search before it half of the time (the paper's second point).
      if (i === 0 || rng.chance(0.5)) experiences = renderAdvice(rng.shuffle([relevant, ...irrelevant]))
      else {
        experiences = renderAdvice(irrelevant)
        lines[i - 1] = relevant
      }
      advised = i
    }
    plan.examples.push({ ...q, question: phraseChain(q.chain[0], phrasings), phrasings: phrasings.map((p) => p.key), heldOutPhrasing: false })
    plan.experiences.push(experiences)
    plan.searchLines.push(lines)
    plan.advisedHop.push(advised)
  }
  return plan
}
