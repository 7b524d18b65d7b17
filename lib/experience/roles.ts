/**
 * Role slots (docs/method.md §1): experiences name roles, not entities. A case learnt on "Where was the founder of
 * North Norwick born?" says "[the question's entity] founded", not "North Norwick founded": another question's names
 * would mislead a policy that copies what it reads. A name is a run of capitalised words (a question's or a query's
 * leading question word and stop words are not names); its role is where the attempt got it from: the question, or
 * the results of its k-th search. Only what a distiller may see is used (the question and the trajectory), never an
 * evidence chain.
 */
import { STOPWORDS } from './text.js'

export const QUESTION_ENTITY = "[the question's entity]"
/** A name the k-th search (1-based) returned first. */
export const stepName = (k: number) => `[the name found in step ${k}]`
/** A name in a search query that the question does not give (at search time the step it came from is not known). */
export const FOUND_NAME = '[a name found in the results]'
/** A name that is neither in the question nor in any result (a guess). */
export const OTHER_NAME = '[another name]'

/** Every slot text (for a word-level vocabulary: the policy reads them). */
export const ROLE_SLOT_TEXTS: readonly string[] = [QUESTION_ENTITY, ...[1, 2, 3, 4, 5, 6].map(stepName), FOUND_NAME, OTHER_NAME]

/**
 * A text with each slot as one symbol ("[the name found in step 1]" → "slotthenamefoundinstep1"), for term
 * counting: a slot's words are not the text's words ("found" in a slot is not the relation "founded").
 */
export function slotsAsSymbols(text: string): string {
  return text.replace(/\[([^\]]*)\]/g, (_, inner: string) => ` slot${inner.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '')} `)
}

/** A text without its slots. */
export const withoutSlots = (text: string) => text.replace(/\[[^\]]*\]/g, ' ')

/** Words that begin with a capital but are the environment's labels, not names. */
const LABELS = new Set(['doc', 'title', 'information', 'experience', 'question', 'answer'])
const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu
const capitalised = (w: string) => /^\p{Lu}/u.test(w)

/**
 * The names in a text, longest first, each once. `leadingWord: 'skip'` (prose: a question, advice) does not count a
 * capitalised word that opens a sentence as a name on its own ("Name the entity …"); a search query has no sentences,
 * so there its first word may be one ("North Norwick founded").
 */
export function namesIn(text: string, o: { leadingWord?: 'skip' | 'name' } = {}): string[] {
  const out = new Set<string>()
  let run: string[] = []
  let runStart = -1
  let sentenceStart = 0
  const flush = () => {
    // Labels ("Doc") and, at a sentence's start, stop words ("Which", "The") are not part of a name; a capitalised
    // stop word inside a sentence is ("Who wrote The Silent River?").
    const opens = runStart === sentenceStart
    while (run.length > 0 && (LABELS.has(run[0].toLowerCase()) || (opens && STOPWORDS.has(run[0].toLowerCase())))) {
      run.shift()
      runStart = -2
    }
    // A possessive belongs to the sentence, not to the name ("North Norwick's founder").
    if (run.length > 0) run[run.length - 1] = run[run.length - 1].replace(/['’]s$/u, '')
    const atSentenceStart = runStart === sentenceStart
    if (run.length > 1 || (run.length === 1 && !(o.leadingWord === 'skip' && atSentenceStart) && !LABELS.has(run[0].toLowerCase()))) {
      out.add(run.join(' '))
    }
    run = []
  }
  let last = 0
  for (const m of text.matchAll(WORD)) {
    const at = m.index as number
    const between = text.slice(last, at)
    // A run is broken by anything but spaces; a sentence ends at . ? ! or a line break.
    if (run.length > 0 && !/^[ \t]+$/.test(between)) flush()
    if (/[.?!\n:]/.test(between) || at === 0) sentenceStart = at
    if (capitalised(m[0])) {
      if (run.length === 0) runStart = at
      run.push(m[0])
    } else if (run.length > 0) flush()
    last = at + m[0].length
  }
  if (run.length > 0) flush()
  return [...out].sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
}

export interface RoleContext {
  /** The question the text was written about (its names become QUESTION_ENTITY). */
  question?: string
  /** The results of each search of the attempt, in order (a name first returned by search k becomes stepName(k)). */
  results?: readonly (string | undefined)[]
  /** What an unknown name becomes (default OTHER_NAME). */
  unknown?: string
  /** The text is a search query (its first word may be a name). */
  query?: boolean
}

/** The role of every name the context knows: the question's first, then each search's new names. */
export function roleTable(ctx: RoleContext): Map<string, string> {
  const roles = new Map<string, string>()
  if (ctx.question) for (const n of namesIn(ctx.question, { leadingWord: 'skip' })) roles.set(n, QUESTION_ENTITY)
  ;(ctx.results ?? []).forEach((info, k) => {
    if (!info) return
    for (const n of namesIn(info, { leadingWord: 'name' })) if (!roles.has(n)) roles.set(n, stepName(k + 1))
  })
  return roles
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * The text with every name replaced by its role: known names (longest first, whole words) by their slot, any other
 * name by `ctx.unknown`. Slots already in the text are kept. The same context always gives the same text, so that
 * cases of different questions with the same structure become the same experience.
 */
export function roleForm(text: string, ctx: RoleContext = {}): string {
  const roles = roleTable(ctx)
  // Known names wherever they appear (also inside a longer run: "North Norwick Bank" keeps its known part's role).
  let out = text
  const known = [...roles.keys()].sort((a, b) => b.length - a.length)
  const slots: string[] = []
  const hold = (slot: string) => {
    slots.push(slot)
    return `\u0000${slots.length - 1}\u0000`
  }
  out = out.replace(/\[[^\]]*\]/g, (s) => hold(s))
  for (const n of known) {
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escape(n)}(?![\\p{L}\\p{N}])`, 'gu'), () => hold(roles.get(n) as string))
  }
  // What is left that reads as a name is one the context does not know.
  const unknown = ctx.unknown ?? OTHER_NAME
  for (const n of namesIn(out.replace(/\u0000\d+\u0000/g, ' , '), { leadingWord: ctx.query ? 'name' : 'skip' })) {
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escape(n)}(?![\\p{L}\\p{N}])`, 'gu'), () => hold(unknown))
  }
  return out.replace(/\u0000(\d+)\u0000/g, (_, i: string) => slots[Number(i)])
}

/** A search query as the search-time retrieval compares it: the question's names and any other name as slots. */
export const queryKey = (query: string, question?: string) => roleForm(query, { ...(question !== undefined && { question }), unknown: FOUND_NAME, query: true })

/** A question as retrieval compares it: its own names as QUESTION_ENTITY (what remains is its type). */
export const questionKey = (question: string) => roleForm(question, { question })
