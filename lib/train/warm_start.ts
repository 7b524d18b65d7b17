/**
 * The advice-reading warm start of the bottleneck world (task.world.phrasings): the same for every method, on train
 * questions only. Each demonstration re-asks a train question's chain in phrasings the warm start may show (never a
 * held-out one). With probability `adviceShare` the demonstration carries advice, and one hop is asked by a word
 * reserved for the warm start (WARM_START_WORDS), which says nothing about the relation by itself: that hop's query
 * word is only in its advice line, so following the advice is necessary. The advice comes as it comes at evaluation
 * (from the HEK, or the go/no-go's oracle): case lines in the distillers' format, a hop's line in the prompt slot or
 * (for a later hop) with the documents of the search before it; lines about the question's other hops, which agree
 * with what its phrasing already says; irrelevant lines (about words the question does not use) in the slot and after
 * searches. The other demonstrations have an empty slot and no search-time line.
 *
 * Why the lines that agree and the irrelevant ones: a warm start whose only advice was the one necessary line (v1)
 * taught a 0.41M-parameter policy to read advice only beside a reserved word; at evaluation, where every hop has
 * advice, a line after a search of a seen phrasing derailed it (validation EM 0.55 without advice, 0.28 with the
 * oracle's; docs/results/bottleneck/go-no-go-3-warm900).
 */
import { hopForRelation, nounPhrasing, phraseChain, WARM_START_WORDS, type Phrasing } from '../env/world_phrasings.js'
import type { QaExample } from '../env/types.js'
import { HOPS } from '../env/world_hops.js'
import { adviceLine, queryWordOf, renderAdvice } from '../experience/advice.js'
import type { Random } from '../util/random.js'

export interface AdvisedPlan {
  /** The demonstrations' questions (re-asked copies of the given ones). */
  examples: QaExample[]
  /** Prompt slot of each ('' = empty). */
  experiences: string[]
  /** Search-time line after each search of each ('' = none). */
  searchLines: string[][]
  /** Which hop is asked by a reserved word, its advice necessary (undefined: no advice). */
  advisedHop: (number | undefined)[]
}

/** Irrelevant lines in an advised demonstration's prompt slot: 0 to this many. */
export const MAX_IRRELEVANT_LINES = 2
/** Chance that a hop other than the necessary one has its (agreeing) line too. */
export const AGREEING_LINE_CHANCE = 0.5
/** Chance that a search with no line about the next hop returns an irrelevant line. */
export const IRRELEVANT_SEARCH_LINE_CHANCE = 0.5

/** Plans the warm start's demonstrations of `questions` (chains needed) from the phrasing table, drawing from `rng` only. */
export function planAdvisedWarmStart(questions: readonly QaExample[], table: ReadonlyMap<string, Phrasing[]>, adviceShare: number, rng: Random): AdvisedPlan {
  const plan: AdvisedPlan = { examples: [], experiences: [], searchLines: [], advisedHop: [] }
  const shown = [...table.values()].flat().filter((p) => !p.heldOut)
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
      advised = rng.int(0, relations.length - 1)
      phrasings[advised] = nounPhrasing(hops[advised], rng.pick(WARM_START_WORDS))
      const previous = (j: number) => (j > 0 ? { previousWord: queryWordOf(relations[j - 1]) } : {})
      const prompt: string[] = []
      for (let j = 0; j < relations.length; j++) {
        if (j !== advised && !rng.chance(AGREEING_LINE_CHANCE)) continue
        const line = adviceLine({ hop: j, queryWord: queryWordOf(relations[j]), failedWord: phrasings[j].word, ...previous(j) })
        // A later hop's line comes with the documents of the search before it half of the time (the paper's second point).
        if (j === 0 || rng.chance(0.5)) prompt.push(line)
        else lines[j - 1] = line
      }
      const used = new Set(phrasings.map((p) => p.word))
      const irrelevant = (): string => {
        // True advice about a word the question does not use: a reserved word, or another phrasing the warm start shows.
        const other = rng.chance(0.5) ? nounPhrasing(rng.pick(hops), rng.pick(WARM_START_WORDS.filter((w) => !used.has(w)))) : rng.pick(shown.filter((p) => !used.has(p.word)))
        const relation = HOPS.find((h) => h.name === other.hop)!.relation
        const j = rng.int(0, relations.length - 1)
        return adviceLine({ hop: j, queryWord: queryWordOf(relation), failedWord: other.word, ...(j > 0 ? { previousWord: queryWordOf(rng.pick(relations)) } : {}) })
      }
      for (let k = rng.int(0, MAX_IRRELEVANT_LINES); k > 0; k--) prompt.push(irrelevant())
      for (let k = 0; k < lines.length; k++) if (!lines[k] && rng.chance(IRRELEVANT_SEARCH_LINE_CHANCE)) lines[k] = irrelevant()
      experiences = renderAdvice(rng.shuffle(prompt))
    }
    plan.examples.push({ ...q, question: phraseChain(q.chain[0], phrasings), phrasings: phrasings.map((p) => p.key), heldOutPhrasing: false })
    plan.experiences.push(experiences)
    plan.searchLines.push(lines)
    plan.advisedHop.push(advised)
  }
  return plan
}
