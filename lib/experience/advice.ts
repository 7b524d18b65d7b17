/**
 * Advice in the distillers' own format, written from a question's chain and phrasings rather than distilled: the lines
 * the advice-reading warm start shows (about its reserved phrasings only) and the phrasing-table oracle of the
 * go/no-go probe (a ceiling, never a method's input). A line is an E1 case as the offline analyzer writes it
 * (cases.ts: "For this question, the successful attempt first searched …; the failed attempt searched …"), with the
 * entities replaced by their roles ("[the question's entity]", "[the name found in step 1]"), so that it names what
 * to search for, never a bridge entity or the answer.
 */
import { RELATION_QUERY_WORDS } from '../agent/demonstrations.js'
import type { QaExample } from '../env/types.js'
import { CASE_PHRASES } from './cases.js'
import { DEFAULT_HEADER } from './retrieve.js'
import type { ExperienceSource } from './source.js'
import { termSet, coverage } from './text.js'

/** The role of the entity a hop starts from: the question's own for the first hop, else the name found before it. */
export function roleOf(hop: number): string {
  return hop === 0 ? "[the question's entity]" : `[the name found in step ${hop}]`
}

/** The query word of a relation: the word of its fact sentence in the world's passages. */
export const queryWordOf = (relation: string): string => RELATION_QUERY_WORDS[relation] ?? relation.replace(/_/g, ' ')

export interface AdviceStep {
  /** Index of the hop the advice is about (0 = the first search). */
  hop: number
  /** The word the successful attempt searched with (the passage's word). */
  queryWord: string
  /** The word the failed attempt searched with (the question's phrasing word). */
  failedWord: string
  /** The previous hop's query word (hop > 0): the search after which this decision is taken. */
  previousWord?: string
}

const [AFTER, FIRST, SUCCESS_SEARCHED, NEXT, , FAILED_SEARCHED] = CASE_PHRASES

/** The case line of one decision, in the offline analyzer's wording with roles for entities. */
export function adviceLine(s: AdviceStep): string {
  const failed = `${FAILED_SEARCHED} ${roleOf(s.hop)} ${s.failedWord}.`
  if (s.hop === 0) return `${FIRST} ${roleOf(0)} ${s.queryWord}; ${failed}`
  return `${AFTER} ${roleOf(s.hop - 1)} ${s.previousWord ?? ''}, ${SUCCESS_SEARCHED} ${roleOf(s.hop)} ${s.queryWord} ${NEXT} ${failed}`
}

/** The prompt slot's rendering of advice lines (as retrieveForPrompt renders its items). */
export function renderAdvice(lines: readonly string[]): string {
  return lines.length === 0 ? '' : [DEFAULT_HEADER, ...lines.map((l) => `- ${l}`)].join('\n')
}

/** Texts of the advice format for a word-level vocabulary (roles, header). */
export function adviceVocabularyTexts(maxHops = 4): string[] {
  // The rendering's own marks too (the list bullet): a word-level vocabulary built from texts alone would miss them.
  return [renderAdvice(['x']), ...Array.from({ length: maxHops }, (_, i) => roleOf(i)), ...CASE_PHRASES]
}

/** The advice about hop `hop` of a question, from its phrasing keys (`${hop}/${word}`). */
export function adviceFor(q: QaExample, hop: number): string {
  const relations = q.relations ?? []
  const word = (i: number) => (q.phrasings?.[i] ?? '').split('/')[1] ?? ''
  return adviceLine({ hop, queryWord: queryWordOf(relations[hop]), failedWord: word(hop), ...(hop > 0 && { previousWord: queryWordOf(relations[hop - 1]) }) })
}

/**
 * The phrasing-table oracle (go/no-go ceiling only): the first hop's advice in the prompt, each later hop's returned
 * with the documents of the search that found the entity it starts from. It reads the question's chain and
 * phrasings, which no distiller sees.
 */
export class PhrasingOracleSource implements ExperienceSource {
  render(q: QaExample): string {
    return q.relations?.length ? renderAdvice([adviceFor(q, 0)]) : ''
  }

  forSearch(query: string, q: QaExample): string {
    const chain = q.chain ?? []
    const terms = termSet(query)
    // The hop this query runs: the last chain entity it names whole (a world's names share words: "Tallow Bank" was
    // founded by "Kesta Tallow", so half a name would place the query a hop too far); the advice is about the next hop.
    let at = -1
    for (let i = 0; i < chain.length - 1; i++) if (coverage(termSet(chain[i]), terms) === 1) at = i
    const next = at + 1
    return at >= 0 && next < (q.relations?.length ?? 0) ? adviceFor(q, next) : ''
  }
}
