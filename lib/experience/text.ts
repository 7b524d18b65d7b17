// Small text helpers shared by the analyzer, the embedder and retrieval: one tokenisation everywhere.

export const STOPWORDS: ReadonlySet<string> = new Set(
  ('a an the of in on at to for from by with and or is was are were be been who what which where when whose whom how ' +
    'did does do that this these those it its as into than then there their his her he she they them i you we our ' +
    'not no yes if so but about after before one two three')
    .split(' '),
)

/** Lower-case word terms without punctuation. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu) ?? []
}

/** Content terms: words minus stop words and one-letter tokens. */
export function terms(text: string): string[] {
  return words(text).filter((w) => w.length > 1 && !STOPWORDS.has(w))
}

/** A light suffix stripper (searching → search, queries → query, names → name), enough to match wordings. */
export function stem(w: string): string {
  if (w.length > 5 && w.endsWith('ing')) return w.slice(0, -3)
  if (w.length > 4 && w.endsWith('ies')) return `${w.slice(0, -3)}y`
  if (w.length > 4 && w.endsWith('ed')) return w.slice(0, -2)
  if (w.length > 4 && /(?:ch|sh|x|ss)es$/.test(w)) return w.slice(0, -2)
  if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) return w.slice(0, -1)
  return w
}

/** Stemmed content terms (what embeddings and shared-term summaries use). */
export function stemmedTerms(text: string): string[] {
  return terms(text).map(stem)
}

export function termSet(text: string): Set<string> {
  return new Set(terms(text))
}

/** Names in a question: runs of capitalised words that are not the sentence's first word nor a question word. */
export function entityTerms(question: string): Set<string> {
  const out = new Set<string>()
  const tokens = question.match(/[\p{L}\p{N}'’]+/gu) ?? []
  tokens.forEach((t, i) => {
    if (i === 0) return
    if (/^\p{Lu}/u.test(t) && !STOPWORDS.has(t.toLowerCase())) out.add(t.toLowerCase())
  })
  return out
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1
  let same = 0
  for (const x of a) if (b.has(x)) same++
  return same / (a.size + b.size - same)
}

/** Share of `a` found in `b`. */
export function coverage(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0) return 0
  let same = 0
  for (const x of a) if (b.has(x)) same++
  return same / a.size
}

/** Whitespace word count: the default token counter of retrieval budgets. */
export function whitespaceTokens(text: string): number {
  const m = text.match(/\S+/g)
  return m ? m.length : 0
}

/** Normalised text for duplicate detection. */
export function normalizeText(text: string): string {
  return words(text).join(' ')
}

/** The seeded generator of the randomized SVD (the project's one PRNG). */
export { uniform as rng } from '../util/random.js'
