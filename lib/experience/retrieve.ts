/**
 * Experience retrieval. The paper's two injection points (docs/method.md §2): `retrieveForPrompt` gives the system-prompt
 * text (the top-k E2/E3 by cosine similarity of question and title), `retrieveForSearch` the best E1 for a search
 * query (only at or above a similarity threshold). `retrieveExperiences` is hiexp's earlier single-point scheme
 * (docs/method.md §6 family): for a question, the top-k₀ tips by embedding similarity (ties by support),
 * their parent strategies, their principles and the most similar other principle, added in that order of priority —
 * each tip followed by its own ancestors — for as long as the rendered text stays within the token budget. Rendered
 * general to specific (principles, strategies, tips) for the prompt's {experiences} slot.
 */
import type { HekNode } from './hek_schema.js'
import { queryKey, questionKey } from './roles.js'
import { normalizeText, whitespaceTokens } from './text.js'

/** What retrieval needs of a HEK (HierarchicalExperience implements it). */
export interface HekIndex {
  readonly levelCount: number
  level(l: number): HekNode[]
  node(id: string): HekNode | undefined
  embedQuery(text: string): Promise<Float32Array>
  /** To each node's title; with `question`, the least of that and the question's similarity to the node's question. */
  similarities(query: string | Float32Array, level: number, options?: { question?: string | Float32Array }): Promise<Array<{ node: HekNode; similarity: number }>>
  /** To each node's question when it has one, else to its title. */
  questionSimilarities(question: string | Float32Array, level: number): Promise<Array<{ node: HekNode; similarity: number }>>
}

export interface RetrieveOptions {
  /** Tips taken by similarity (k₀, default 3). */
  k0?: number
  /** Most tokens of the rendered text (default 150). */
  budget?: number
  /** Token counter (default: whitespace words). Pass the policy tokenizer's `t => tok.encode(t).length`. */
  countTokens?: (text: string) => number
  /** Prefer nodes learnt on this task type (others are used only when none match). */
  taskType?: string
  /** The question's hop count, when known: nodes restricted to another hop count are left out. */
  hops?: number
  /** Tips below this similarity are not taken (default: no floor). */
  minSimilarity?: number
  /** Extra top-level principles by similarity beyond the tips' own ancestors (default 1). */
  extraPrinciples?: number
  /** First line of the rendered text. */
  header?: string
}

export interface RetrievedItem {
  node: HekNode
  similarity: number
}

export interface Retrieval {
  tips: RetrievedItem[]
  strategies: RetrievedItem[]
  principles: RetrievedItem[]
  /** For the prompt's {experiences} slot ('' when nothing fits the budget). */
  text: string
  tokens: number
}


export const DEFAULT_HEADER = 'Experience from earlier attempts:'
/** Defaults of the paper's retrieval (docs/method.md §2). */
export const PROMPT_TOP_K = 5
export const SEARCH_MIN_SIMILARITY = 0.8
/**
 * hiexp's floor for the prompt slot (the paper states none): an E2/E3 less similar to the question than this is not
 * injected, so the slot may hold fewer than k lines, or none. Without a floor the slot is always filled to its budget,
 * with items that have nothing to do with the question (similarities of 0.004 were seen).
 */
export const PROMPT_MIN_SIMILARITY = 0.3

export interface PromptRetrieveOptions {
  /** E2/E3 experiences taken by similarity (default 5). */
  k?: number
  /** Least cosine similarity of φ(question) and φ(title) for an item to be taken (default PROMPT_MIN_SIMILARITY, 0.3; -1 takes any). */
  minSimilarity?: number
  /** Most tokens of the rendered text (default: no limit). */
  budget?: number
  countTokens?: (text: string) => number
  header?: string
}

export interface PromptRetrieval {
  items: RetrievedItem[]
  /** For the prompt's {experiences} slot ('' when none). */
  text: string
  tokens: number
}

/**
 * The system-prompt injection: the k E2/E3 nodes most similar to the question (cosine of φ(question) and φ(title), or
 * of the node's question type when it was learnt on questions;
 * ties by support, then id), most similar first, as many as fit the budget, none below the similarity floor. A summary whose text repeats one already
 * taken (an offline E3 is often its E2's medoid) is skipped, so k distinct lines are shown when there are k.
 */
export async function retrieveForPrompt(hek: HekIndex, question: string, options: PromptRetrieveOptions = {}): Promise<PromptRetrieval> {
  const k = options.k ?? PROMPT_TOP_K
  const budget = options.budget ?? Number.POSITIVE_INFINITY
  const count = options.countTokens ?? whitespaceTokens
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`options.k must be an integer >= 0, got ${k}`)
  if (!(budget >= 0)) throw new RangeError(`options.budget must be a number >= 0, got ${budget}`)
  const floor = options.minSimilarity ?? PROMPT_MIN_SIMILARITY
  if (typeof floor !== 'number' || Number.isNaN(floor)) throw new RangeError(`options.minSimilarity must be a number, got ${String(floor)}`)
  // The question as the HEK's keys are written: its names as role slots, so what is compared is its type.
  const q = await hek.embedQuery(questionKey(question))
  const candidates: RetrievedItem[] = []
  for (let l = 1; l < hek.levelCount; l++) candidates.push(...(await hek.questionSimilarities(q, l)))
  candidates.sort((a, b) => b.similarity - a.similarity || b.node.support - a.node.support || (a.node.id < b.node.id ? -1 : 1))
  const items: RetrievedItem[] = []
  const texts = new Set<string>()
  let text = ''
  let tokens = 0
  for (const c of candidates) {
    // Sorted by similarity: everything after the first one below the floor is below it too.
    if (items.length >= k || c.similarity < floor) break
    const key = normalizeText(c.node.text)
    if (texts.has(key)) continue
    const candidate = renderList([...items, c], options.header)
    const n = count(candidate)
    if (n > budget) continue
    items.push(c)
    texts.add(key)
    text = candidate
    tokens = n
  }
  return { items, text, tokens }
}

export interface SearchRetrieveOptions {
  /** Least cosine similarity of φ(query) and φ(E1 title) (default 0.8). */
  minSimilarity?: number
  /**
   * The question being answered: a case learnt on a question must then match it as well as the query (the least of the
   * two similarities), and the query's names that the question gives become role slots.
   */
  question?: string
}

export interface SearchRetrieval {
  /** The best E1 (also when below the threshold, for logs). */
  best?: RetrievedItem
  /** Its description when at or above the threshold, else ''. */
  text: string
}

/**
 * The search-call injection: the E1 whose title is most similar to the query, if the similarity reaches the
 * threshold. With the question, names are role slots, and a case learnt on a question must match it as well (the
 * least of the two similarities): a look-alike query of another question type does not fire it.
 */
export async function retrieveForSearch(hek: HekIndex, query: string, options: SearchRetrieveOptions = {}): Promise<SearchRetrieval> {
  const min = options.minSimilarity ?? SEARCH_MIN_SIMILARITY
  if (typeof min !== 'number' || Number.isNaN(min)) throw new RangeError(`options.minSimilarity must be a number, got ${String(min)}`)
  let best: RetrievedItem | undefined
  const asked = options.question === undefined ? {} : { question: questionKey(options.question) }
  for (const x of await hek.similarities(queryKey(query, options.question), 0, asked)) {
    if (!best || x.similarity > best.similarity || (x.similarity === best.similarity && x.node.support > best.node.support)) best = x
  }
  return { ...(best ? { best } : {}), text: best && best.similarity >= min ? best.node.text : '' }
}

function renderList(items: readonly RetrievedItem[], header = DEFAULT_HEADER): string {
  return items.length === 0 ? '' : [header, ...items.map((x) => `- ${x.node.text}`)].join('\n')
}
const SECTION_TITLES = { principle: 'Principles', strategy: 'Strategies', tip: 'Tips' } as const

/** Every word retrieval adds around the experiences themselves (for word-level vocabularies). */
export const RETRIEVAL_VOCABULARY_TEXTS: readonly string[] = [DEFAULT_HEADER, ...Object.values(SECTION_TITLES).map((t) => `${t}:`)]

export async function retrieveExperiences(hek: HekIndex, question: string, options: RetrieveOptions = {}): Promise<Retrieval> {
  const k0 = options.k0 ?? 3
  const budget = options.budget ?? 150
  const count = options.countTokens ?? whitespaceTokens
  const minSim = options.minSimilarity ?? Number.NEGATIVE_INFINITY
  if (!Number.isInteger(k0) || k0 < 0) throw new RangeError(`options.k0 must be an integer >= 0, got ${k0}`)
  if (!(budget >= 0)) throw new RangeError(`options.budget must be a number >= 0, got ${budget}`)
  const L = hek.levelCount
  const top = L - 1

  // A HEK distilled on another task type (cross-task use) is searched whole; its hop strata then mean nothing here,
  // so the hop filter applies only when the HEK knows the question's task type.
  const knowsTask = options.taskType === undefined || hek.level(0).some((n) => n.taskType === options.taskType || n.taskType === 'any')
  const hops = knowsTask ? options.hops : undefined
  const byTask = <T extends { node: HekNode }>(all: T[]): T[] => {
    const xs = hops === undefined ? all : all.filter((x) => x.node.hops === undefined || x.node.hops === hops)
    if (options.taskType === undefined || !knowsTask) return xs
    const same = xs.filter((x) => x.node.taskType === options.taskType || x.node.taskType === 'any')
    return same.length > 0 ? same : xs
  }
  const rank = (xs: RetrievedItem[]) =>
    xs.sort((a, b) => b.similarity - a.similarity || b.node.support - a.node.support || (a.node.id < b.node.id ? -1 : 1))

  const q = await hek.embedQuery(question)
  const tips = rank(byTask(await hek.similarities(q, 0)).filter((x) => x.similarity >= minSim)).slice(0, k0)
  const simOf = new Map<string, number>()
  for (let l = 1; l < L; l++) for (const x of await hek.similarities(q, l)) simOf.set(x.node.id, x.similarity)

  // Priority list: tip, its strategy (level 1 … top-1 ancestors), its principle (top ancestor, when L >= 3).
  const order: Array<{ item: RetrievedItem; role: 'tip' | 'strategy' | 'principle' }> = []
  const roleOf = (level: number) => (level === 0 ? 'tip' : level === top && L >= 3 ? 'principle' : 'strategy')
  for (const t of tips) {
    order.push({ item: t, role: 'tip' })
    let p = t.node.parent === null ? undefined : hek.node(t.node.parent)
    while (p) {
      if (hops === undefined || p.hops === undefined || p.hops === hops) {
        order.push({ item: { node: p, similarity: simOf.get(p.id) ?? 0 }, role: roleOf(p.level) })
      }
      p = p.parent === null ? undefined : hek.node(p.parent)
    }
  }
  if (L >= 3) {
    const extra = options.extraPrinciples ?? 1
    const principles = rank(byTask(hek.level(top).map((node) => ({ node, similarity: simOf.get(node.id) ?? 0 }))))
    for (const item of principles.slice(0, extra + order.filter((o) => o.role === 'principle').length)) order.push({ item, role: 'principle' })
  }

  const chosen = { tip: [] as RetrievedItem[], strategy: [] as RetrievedItem[], principle: [] as RetrievedItem[] }
  const ids = new Set<string>()
  const texts = new Set<string>()
  let text = ''
  let tokens = 0
  for (const { item, role } of order) {
    const key = normalizeText(item.node.text)
    if (ids.has(item.node.id) || texts.has(key)) continue
    chosen[role].push(item)
    const candidate = renderRetrieval(chosen.principle, chosen.strategy, chosen.tip, options.header)
    const n = count(candidate)
    if (n <= budget) {
      ids.add(item.node.id)
      texts.add(key)
      text = candidate
      tokens = n
    } else chosen[role].pop()
  }
  return { tips: chosen.tip, strategies: chosen.strategy, principles: chosen.principle, text, tokens }
}

/** The text for the prompt's {experiences} slot: principles, then strategies, then tips, one per line. */
export function renderRetrieval(principles: readonly RetrievedItem[], strategies: readonly RetrievedItem[], tips: readonly RetrievedItem[], header = DEFAULT_HEADER): string {
  if (principles.length + strategies.length + tips.length === 0) return ''
  const lines: string[] = [header]
  const section = (title: string, xs: readonly RetrievedItem[]) => {
    if (xs.length === 0) return
    lines.push(`${title}:`)
    for (const x of xs) lines.push(`- ${x.node.text}`)
  }
  section(SECTION_TITLES.principle, principles)
  section(SECTION_TITLES.strategy, strategies)
  section(SECTION_TITLES.tip, tips)
  return lines.join('\n')
}
