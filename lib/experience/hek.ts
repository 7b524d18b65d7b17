/**
 * The Hierarchical Experience Knowledge base (HEK, docs/method.md §1). Level 0 holds the distilled experiences, E1 cases;
 * their titles (the matching keys) are embedded, clustered by Ward linkage and cut at τ1, and each cluster is
 * summarised into an E2 pattern; the E2 titles are clustered the same way and cut at τ2 into E3 strategies (more
 * levels repeat the last step). Every node keeps its children, its parent one level up, its support (the sum of its
 * children's) and its success rate (their support-weighted mean), and the embedding of its title (what retrieval
 * compares a question or a search query with). Saved as versioned JSON, checked by a zod schema and by the tree's
 * invariants on load (version 1 files are converted), written atomically.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { cutTree } from '../ops/cluster/cut.js'
import { linkage, type LinkageMethod } from '../ops/cluster/linkage.js'
import { writeFileAtomic } from '../util/atomic.js'
import { mean } from '../util/stats.js'
import { cosine, embedderFromState, TfidfSvdEmbedder, type Embedder } from './embed.js'
import { HEK_FORMAT, HEK_VERSION, HekFileSchema, levelName, typeOfLevel, upgradeHekFile, type HekFile, type HekNode } from './hek_schema.js'
import { retrieveExperiences, retrieveForPrompt, retrieveForSearch, type PromptRetrieval, type PromptRetrieveOptions, type Retrieval, type RetrieveOptions, type SearchRetrieval, type SearchRetrieveOptions } from './retrieve.js'
import { offlineSummarizer, type ClusterInput, type ClusterSummary, type Summarizer } from './summarize.js'
import { jaccard, normalizeText, stemmedTerms, whitespaceTokens } from './text.js'
import { ExperienceRecordSchema, firstIssue, matchKey, titleOf, type CheckedExperience, type Experience, type ExperienceKind } from './types.js'

export { HEK_FORMAT, HEK_VERSION, HekNodeSchema, HekFileSchema, LEVEL_NAMES, levelName, type HekNode, type HekFile } from './hek_schema.js'
export type { RetrieveOptions, RetrievedItem, Retrieval, PromptRetrieval, PromptRetrieveOptions, SearchRetrieval, SearchRetrieveOptions } from './retrieve.js'

/**
 * Default cuts of the Ward trees, τ1 (E1 → E2) and τ2 (E2 → E3). Titles are embedded as unit vectors, so two titles
 * merge at the Euclidean distance sqrt(2 (1 − cos)): τ1 = 1.0 joins a pair of cases whose titles have cosine ≥ 0.5;
 * Ward's height grows with the cluster size, and τ2 = 1.5 (pairs whose titles are not opposed, cos > −0.125) makes a few
 * broad strategies from the patterns.
 */
export const DEFAULT_THRESHOLDS = [1.0, 1.5] as const

export const HekOptionsSchema = z
  .object({
    /** Levels including the cases (default 3: E1 cases → E2 patterns → E3 strategies). */
    levels: z.number().int().min(1).max(8).default(3),
    /**
     * Cut height of each level above the cases: τ1, τ2, … (levels - 1 numbers; each level is clustered from the one
     * below by its own linkage, so they need not be ascending). Default DEFAULT_THRESHOLDS, the last repeated.
     */
    thresholds: z.array(z.number().min(0)).optional(),
    /** Linkage: 'ward' (the paper; on the unit title vectors, Euclidean) or a cosine-distance linkage. */
    method: z.enum(['ward', 'single', 'complete', 'average', 'weighted']).default('ward'),
    /**
     * Cases of the same kind and title whose stemmed term sets have at least this Jaccard similarity are merged as
     * duplicates (1: exact duplicates only, after normalisation). Lexical on purpose: in a low-dimensional embedding,
     * different advice can look identical.
     */
    dedupeJaccard: z.number().min(0).max(1).default(0.8),
  })
  .strict()
export type HekOptions = z.input<typeof HekOptionsSchema> & {
  embedder?: Embedder
  summarizer?: Summarizer
  /**
   * Texts the embedder's space is also learnt from (docs/method.md §1): what retrieval will compare — the corpus
   * passages, the train questions. Without them a TF-IDF space knows only the case titles' words.
   */
  fitTexts?: readonly string[]
}
type ResolvedHekOptions = z.output<typeof HekOptionsSchema> & { thresholds: number[] }

export interface BuildStats {
  /** Experiences given, and cases after deduplication. */
  experiences: number
  tips: number
  dedupeMs: number
  embedMs: number
  linkageMs: number
  summarizeMs: number
  totalMs: number
  /** Retrieval precision, when measured after the build (precision.ts): gold queries replayed, cases fired, of the query's relation. */
  retrievalReplayed?: number
  retrievalFired?: number
  retrievalPrecise?: number
  /** retrievalPrecise / retrievalFired (absent when nothing fired). */
  retrievalPrecision?: number
}

/** One level being built: its nodes and the vectors they are clustered by (clusterVector). */
interface BuiltLevel {
  nodes: HekNode[]
  vectors: Float32Array[]
}

/**
 * What a node is clustered by: its title's vector and its question's side by side, over √2 (a unit vector whose
 * squared distances are the mean of the two parts'); a node without a question uses its title for both halves.
 */
function clusterVector(title: Float32Array, question: Float32Array | undefined): Float32Array {
  const out = new Float32Array(title.length * 2)
  out.set(title, 0)
  out.set(question ?? title, title.length)
  for (let i = 0; i < out.length; i++) out[i] /= Math.SQRT2
  return out
}

/** The title vectors and the question vectors (undefined for a text without a question) of the texts, in one call. */
async function embedKeys(embedder: Embedder, xs: readonly { title: string; question?: string }[], fit?: readonly string[]): Promise<{ titles: Float32Array[]; questions: (Float32Array | undefined)[] }> {
  const asked = xs.flatMap((x) => (x.question !== undefined ? [x.question] : []))
  const texts = [...xs.map((x) => x.title), ...asked]
  const vectors = fit ? await embedder.fit(texts, { background: fit }) : embedder.dim > 0 ? await embedder.embed(texts) : texts.map(() => new Float32Array(0))
  let k = xs.length
  return { titles: vectors.slice(0, xs.length), questions: xs.map((x) => (x.question !== undefined ? vectors[k++] : undefined)) }
}

/** Checks the options and fills in the default thresholds. */
export function resolveHekOptions(rest: z.input<typeof HekOptionsSchema>): ResolvedHekOptions {
  const p = HekOptionsSchema.safeParse(rest)
  if (!p.success) throw new RangeError(`HEK options: ${firstIssue(p.error)}`)
  const o = p.data
  if (o.thresholds && o.thresholds.length !== o.levels - 1) {
    throw new RangeError(`HEK options: thresholds must hold levels - 1 = ${o.levels - 1} numbers (τ1, τ2, …), got ${o.thresholds.length}`)
  }
  const thresholds = o.thresholds ?? Array.from({ length: o.levels - 1 }, (_, l) => DEFAULT_THRESHOLDS[Math.min(l, DEFAULT_THRESHOLDS.length - 1)])
  return { ...o, thresholds }
}

/** Step 1: every experience through the schema (the paper's field names accepted; text cleaned: sanitize.ts). */
export function checkExperiences(experiences: readonly (Experience | Record<string, unknown>)[]): CheckedExperience[] {
  if (experiences.length === 0) throw new RangeError('HEK: experiences must hold at least one experience')
  return experiences.map((e, i) => {
    const r = ExperienceRecordSchema.safeParse(e)
    if (!r.success) throw new TypeError(`HEK: experiences[${i}]: ${firstIssue(r.error)}`)
    return { ...r.data, type: 'E1' }
  })
}

/** Step 2: exact, then near duplicates merged into one case each (support summed). */
export function dedupeCases(checked: readonly CheckedExperience[], jaccardMin: number): CheckedExperience[] {
  let groups = mergeDuplicates(checked.map((e) => [e]))
  if (jaccardMin < 1 && groups.length > 1) groups = mergeNear(groups, jaccardMin)
  return groups.map(combine)
}

/** Step 3: agglomerative clustering of unit vectors, cut at `threshold`: a cluster index per point (0-based). */
export async function clusterTitles(vectors: readonly Float32Array[], method: LinkageMethod, threshold: number): Promise<{ assignment: Int32Array; linkage: Float64Array }> {
  const n = vectors.length
  const d = vectors[0]?.length ?? 0
  if (n < 2 || d === 0) return { assignment: new Int32Array(n), linkage: new Float64Array(0) }
  const flat = new Float32Array(n * d)
  vectors.forEach((v, i) => flat.set(v, i * d))
  // A zero vector (a title with no known term) has no direction: nudge it onto a dimension of its own.
  for (let i = 0; i < n; i++) if (vectors[i].every((x) => x === 0)) flat[i * d] = 1e-6
  // Ward needs Euclidean distances; on unit vectors they order pairs exactly as cosine distances do.
  const Z = await linkage(flat, n, d, { method, metric: method === 'ward' ? 'euclidean' : 'cosine' })
  const labels = cutTree(Z, n, { distance: threshold })
  // scipy numbers clusters from 1 in tree order; renumber by first member so that ids follow the input order.
  const first = new Map<number, number>()
  const assignment = Int32Array.from(labels, (c) => {
    if (!first.has(c)) first.set(c, first.size)
    return first.get(c) as number
  })
  return { assignment, linkage: Z }
}

/** Step 4: the cases as level-0 nodes. */
function caseNodes(cases: readonly CheckedExperience[], vectors: readonly Float32Array[], questionVectors: readonly (Float32Array | undefined)[]): BuiltLevel {
  const ids = uniqueIds(cases.map((e) => e.id))
  const nodes = cases.map((e, i): HekNode => {
    const node: HekNode = {
      id: ids[i], level: 0, type: 'E1', title: titleOf(e), tags: e.tags, text: e.text, thinking: e.thinking, kind: e.kind, when: e.when,
      taskType: e.taskType, support: e.support, successRate: e.successRate, parent: null, children: [], sources: e.sources, terms: [],
      vector: roundVec(vectors[i]),
    }
    if (e.score !== undefined) node.score = e.score
    if (e.origin !== undefined) node.origin = e.origin
    if (e.hops !== undefined) node.hops = e.hops
    if (e.question !== undefined) node.question = e.question
    const qv = questionVectors[i]
    if (qv !== undefined) node.questionVector = roundVec(qv)
    return node
  })
  return { nodes, vectors: vectors.map((v, i) => clusterVector(v, questionVectors[i])) }
}

/** Step 5: one level up: the clusters of `below` (by `assignment`), each summarised and its title embedded. */
async function summariseLevel(below: BuiltLevel, assignment: Int32Array, l: number, L: number, summarizer: Summarizer, embedder: Embedder): Promise<BuiltLevel> {
  const k = Math.max(0, ...assignment) + 1
  const members: number[][] = Array.from({ length: k }, () => [])
  assignment.forEach((c, i) => members[c].push(i))
  const inputs: ClusterInput[] = members.map((ms) => ({
    level: l,
    levelName: levelName(l, L),
    members: ms.map((i) => ({ ...below.nodes[i], vector: below.vectors[i] })),
  }))
  const summaries: ClusterSummary[] = await summarizer.summarize(inputs)
  const titles = summaries.map((s, c) => s.title ?? titleOf(below.nodes[members[c][0]]))
  const { titles: vectors, questions: questionVectors } = await embedKeys(embedder, summaries.map((s, c) => ({ title: titles[c], ...(s.question !== undefined && { question: s.question }) })))
  const nodes = members.map((ms, c): HekNode => {
    const kids = ms.map((i) => below.nodes[i])
    const support = kids.reduce((s, x) => s + x.support, 0)
    const successRate = support > 0 ? kids.reduce((s, x) => s + x.support * x.successRate, 0) / support : mean(kids.map((x) => x.successRate))
    const taskTypes = new Set(kids.map((x) => x.taskType))
    const hops = new Set(kids.map((x) => x.hops))
    const node: HekNode = {
      id: `L${l}.${c}`,
      level: l,
      type: typeOfLevel(l),
      title: titles[c],
      tags: [...new Set(kids.flatMap((x) => x.tags))].slice(0, 12),
      text: summaries[c].text,
      thinking: summaries[c].thinking ?? '',
      kind: levelName(l, L) === 'strategy' && L >= 3 && l === L - 1 ? 'principle' : majorityKind(kids),
      when: summaries[c].when,
      taskType: taskTypes.size === 1 ? [...taskTypes][0] : 'any',
      support,
      successRate: clamp01(successRate),
      parent: null,
      children: kids.map((x) => x.id),
      // Questions first (the paper's sources), then the rollouts, bounded.
      sources: [...new Set(kids.flatMap((x) => x.sources))].slice(0, 50),
      terms: summaries[c].terms,
      vector: roundVec(vectors[c]),
    }
    const [h] = hops
    if (hops.size === 1 && h !== undefined) node.hops = h
    if (summaries[c].question !== undefined) node.question = summaries[c].question
    const qv = questionVectors[c]
    if (qv !== undefined) node.questionVector = roundVec(qv)
    for (const kid of kids) kid.parent = node.id
    return node
  })
  return { nodes, vectors: vectors.map((v, c) => clusterVector(v, questionVectors[c])) }
}

/** A loaded or built HEK. Immutable: `update` returns a new one. */
export class HierarchicalExperience {
  private readonly byId: Map<string, HekNode>
  private readonly vectors: Map<string, Float32Array>
  private readonly questionVectors: Map<string, Float32Array>
  /** The version of the file this HEK was read from, when it was converted from an older one. */
  upgradedFrom?: number

  private constructor(readonly file: HekFile, readonly embedder: Embedder, private readonly summarizer: Summarizer = offlineSummarizer) {
    this.byId = new Map(file.nodes.map((n) => [n.id, n]))
    this.vectors = new Map(file.nodes.map((n) => [n.id, Float32Array.from(n.vector)]))
    this.questionVectors = new Map(file.nodes.flatMap((n) => (n.questionVector ? [[n.id, Float32Array.from(n.questionVector)] as const] : [])))
  }

  get nodes(): readonly HekNode[] {
    return this.file.nodes
  }
  get levelCount(): number {
    return this.file.levels.length
  }
  /** Nodes of level l (0 = E1 cases). */
  level(l: number): HekNode[] {
    const lv = this.file.levels[l]
    if (!lv) throw new RangeError(`level must be in [0, ${this.file.levels.length - 1}], got ${l}`)
    return lv.nodes.map((id) => this.byId.get(id) as HekNode)
  }
  node(id: string): HekNode | undefined {
    return this.byId.get(id)
  }
  vector(id: string): Float32Array | undefined {
    return this.vectors.get(id)
  }
  get buildStats(): Partial<BuildStats> {
    return this.file.build as Partial<BuildStats>
  }
  /** The cases as experiences (what `update` starts from). */
  experiences(): Experience[] {
    return this.level(0).map((n) => {
      const e: Experience = {
        id: n.id, type: 'E1', title: n.title, tags: n.tags, text: n.text, thinking: n.thinking, kind: n.kind, when: n.when,
        taskType: n.taskType, support: n.support, successRate: n.successRate, sources: n.sources,
      }
      if (n.score !== undefined) e.score = n.score
      if (n.origin !== undefined) e.origin = n.origin
      if (n.hops !== undefined) e.hops = n.hops
      if (n.question !== undefined) e.question = n.question
      return e
    })
  }

  /**
   * Builds the HEK in named steps: check the experiences, merge duplicates, embed the case titles, then per level
   * cluster (Ward, cut at τ_l) and summarise. Experiences may be given in hiexp's shape or in the paper's
   * (`description` for `text`).
   */
  static async build(experiences: readonly (Experience | Record<string, unknown>)[], options: HekOptions = {}): Promise<HierarchicalExperience> {
    const { embedder: givenEmbedder, summarizer = offlineSummarizer, fitTexts, ...rest } = options
    const o = resolveHekOptions(rest)
    const checked = checkExperiences(experiences)
    const embedder = givenEmbedder ?? new TfidfSvdEmbedder()
    const t0 = performance.now()
    const cases = dedupeCases(checked, o.dedupeJaccard)
    const t1 = performance.now()
    const caseKeys = await embedKeys(embedder, cases.map((e) => ({ title: titleOf(e), ...(e.question !== undefined && { question: e.question }) })), fitTexts ?? [])
    const t2 = performance.now()

    const levels: BuiltLevel[] = [caseNodes(cases, caseKeys.titles, caseKeys.questions)]
    let caseLinkage: Float64Array = new Float64Array(0)
    let linkageMs = 0
    let summarizeMs = 0
    for (let l = 1; l < o.levels; l++) {
      const below = levels[l - 1]
      const s0 = performance.now()
      const { assignment, linkage: Z } = await clusterTitles(below.vectors, o.method as LinkageMethod, o.thresholds[l - 1])
      if (l === 1) caseLinkage = Z
      const s1 = performance.now()
      levels.push(await summariseLevel(below, assignment, l, o.levels, summarizer, embedder))
      linkageMs += s1 - s0
      summarizeMs += performance.now() - s1
    }
    const build: BuildStats = {
      experiences: experiences.length,
      tips: cases.length,
      dedupeMs: t1 - t0,
      embedMs: t2 - t1,
      linkageMs,
      summarizeMs,
      totalMs: performance.now() - t0,
    }
    const file: HekFile = {
      format: HEK_FORMAT,
      version: HEK_VERSION,
      createdAt: new Date().toISOString(),
      options: { levels: o.levels, thresholds: o.thresholds, method: o.method, summarizer: summarizer.name },
      embedder: embedder.state(),
      levels: levels.map((lv, l) => ({ level: l, name: levelName(l, o.levels), threshold: l === 0 ? null : o.thresholds[l - 1], nodes: lv.nodes.map((x) => x.id) })),
      nodes: levels.flatMap((lv) => lv.nodes),
      linkage: Array.from(caseLinkage),
      build: { ...build },
    }
    const hek = new HierarchicalExperience(file, embedder, summarizer)
    hek.rebuildOptions = o
    return hek
  }

  private rebuildOptions: ResolvedHekOptions | undefined

  /**
   * Dynamic HEK (docs/method.md §6): the tips of this HEK plus `experiences`, deduplicated and re-clustered from scratch
   * into a new HEK (this one is unchanged, so a trainer can swap the reference atomically). `buildStats` of the
   * result holds the rebuild's cost.
   */
  async update(experiences: readonly Experience[], options: HekOptions = {}): Promise<HierarchicalExperience> {
    const base = this.rebuildOptions ?? {
      levels: this.file.options.levels,
      thresholds: this.file.options.thresholds,
      method: this.file.options.method as 'ward',
    }
    // A space learnt from background texts (the corpus) is kept: they are not stored, and they still cover the new cases.
    const refit = this.file.embedder.kind === 'tfidf-svd' && this.file.embedder.background === 0
    const embedder = options.embedder ?? (refit ? new TfidfSvdEmbedder() : fixedSpace(this.embedder))
    return HierarchicalExperience.build([...this.experiences(), ...experiences], {
      ...base,
      ...options,
      embedder,
      summarizer: options.summarizer ?? this.summarizer,
    })
  }

  /** This HEK with more numbers in its build record (e.g. the retrieval precision measured once it is built). */
  withBuildStats(stats: Readonly<Record<string, number>>): HierarchicalExperience {
    const hek = new HierarchicalExperience({ ...this.file, build: { ...this.file.build, ...stats } }, this.embedder, this.summarizer)
    hek.rebuildOptions = this.rebuildOptions
    if (this.upgradedFrom !== undefined) hek.upgradedFrom = this.upgradedFrom
    return hek
  }

  toJSON(): HekFile {
    return this.file
  }

  save(path: string): void {
    writeFileAtomic(path, JSON.stringify(this.file))
  }

  /** Reads and checks a HEK file; every problem is reported with the file's path and what is wrong. */
  static load(path: string, options: { apiKey?: string; summarizer?: Summarizer } = {}): HierarchicalExperience {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (e) {
      throw new Error(`hiexp: cannot read the HEK file ${path}: ${(e as Error).message}`)
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (e) {
      throw new Error(`hiexp: ${path} is not a valid HEK file: not JSON (${(e as Error).message})`)
    }
    return HierarchicalExperience.fromJSON(value, path, options)
  }

  static fromJSON(value: unknown, source = 'HEK', options: { apiKey?: string; summarizer?: Summarizer } = {}): HierarchicalExperience {
    const bad = (m: string) => new Error(`hiexp: ${source} is not a valid HEK file: ${m}`)
    let upgradedFrom: number | undefined
    if (typeof value === 'object' && value !== null) {
      const v = value as { format?: unknown; version?: unknown }
      if (v.format !== undefined && v.format !== HEK_FORMAT) throw bad(`format is ${JSON.stringify(v.format)}, expected "${HEK_FORMAT}"`)
      if (v.version === 1) {
        // Version 1 (tips → strategies → principles, no titles): read as E1 → E2 → E3 with each text its own title.
        value = upgradeHekFile(value as Record<string, unknown>)
        upgradedFrom = 1
      } else if (typeof v.version === 'number' && v.version !== HEK_VERSION) {
        throw bad(`version ${v.version} is not supported (this hiexp reads versions 1 and ${HEK_VERSION})`)
      }
    }
    const p = HekFileSchema.safeParse(value)
    if (!p.success) throw bad(`${firstIssue(p.error)}${upgradedFrom ? ' (in the version 1 file, converted)' : ''}`)
    const problem = checkTree(p.data)
    if (problem) throw bad(problem)
    const hek = new HierarchicalExperience(p.data, embedderFromState(p.data.embedder, options.apiKey), options.summarizer)
    if (upgradedFrom !== undefined) hek.upgradedFrom = upgradedFrom
    return hek
  }

  /** A text embedded in this HEK's space (a question, for retrieval). */
  async embedQuery(text: string): Promise<Float32Array> {
    const [q] = await this.embedder.embed([text])
    return q
  }

  /**
   * Cosine similarity of a text (or an embedded query) to the title of every node of a level. With `question`, a
   * node learnt on a question (a case, or a summary of cases) must match on both: the least of the two similarities.
   */
  async similarities(query: string | Float32Array, level: number, options: { question?: string | Float32Array } = {}): Promise<Array<{ node: HekNode; similarity: number }>> {
    const q = typeof query === 'string' ? await this.embedQuery(query) : query
    const asked = typeof options.question === 'string' ? await this.embedQuery(options.question) : options.question
    return this.level(level).map((node) => {
      let similarity = q.length > 0 ? cosine(q, this.vectors.get(node.id) as Float32Array) : 0
      const qv = this.questionVectors.get(node.id)
      if (asked && qv) similarity = Math.min(similarity, asked.length > 0 ? cosine(asked, qv) : 0)
      return { node, similarity }
    })
  }

  /** Cosine similarity of a question to every node of a level: to its question when it has one, else to its title. */
  async questionSimilarities(question: string | Float32Array, level: number): Promise<Array<{ node: HekNode; similarity: number }>> {
    const q = typeof question === 'string' ? await this.embedQuery(question) : question
    return this.level(level).map((node) => {
      const v = this.questionVectors.get(node.id) ?? (this.vectors.get(node.id) as Float32Array)
      return { node, similarity: q.length > 0 ? cosine(q, v) : 0 }
    })
  }

  /** hiexp's earlier retrieval (cases by similarity to the question, with their ancestors): see retrieve.ts. */
  async retrieve(question: string, options: RetrieveOptions = {}): Promise<Retrieval> {
    return retrieveExperiences(this, question, options)
  }

  /** The system-prompt injection (docs/method.md §2): the top-k E2/E3 by cosine(φ(question), φ(title)). */
  async retrieveForPrompt(question: string, options: PromptRetrieveOptions = {}): Promise<PromptRetrieval> {
    return retrieveForPrompt(this, question, options)
  }

  /** The search-call injection (docs/method.md §2): the best E1 by cosine(φ(query), φ(title)), if ≥ the threshold. */
  async retrieveForSearch(query: string, options: SearchRetrieveOptions = {}): Promise<SearchRetrieval> {
    return retrieveForSearch(this, query, options)
  }
}

export const defaultCountTokens = whitespaceTokens

// ---- helpers ----------------------------------------------------------------------------------------------------

/** An embedder whose space is not learnt again: `fit` only embeds. */
function fixedSpace(e: Embedder): Embedder {
  return { get dim() { return e.dim }, state: () => e.state(), embed: (t) => e.embed(t), fit: (t) => e.embed(t) }
}

function mergeDuplicates(groups: CheckedExperience[][]): CheckedExperience[][] {
  const byText = new Map<string, CheckedExperience[]>()
  for (const g of groups) {
    for (const e of g) {
      const key = `${e.kind}\u0000${normalizeText(matchKey(e))}\u0000${normalizeText(e.text)}`
      const list = byText.get(key)
      if (list) list.push(e)
      else byText.set(key, [e])
    }
  }
  return [...byText.values()]
}

/** Union of tips of the same kind whose stemmed term sets overlap by at least `min` (Jaccard), by single linkage. */
function mergeNear(groups: CheckedExperience[][], min: number): CheckedExperience[][] {
  const n = groups.length
  const sets = groups.map((g) => new Set(stemmedTerms(g[0].text)))
  const parent = Int32Array.from({ length: n }, (_, i) => i)
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])))
  for (let i = 0; i < n; i++) {
    if (sets[i].size === 0) continue
    for (let j = i + 1; j < n; j++) {
      if (groups[i][0].kind !== groups[j][0].kind) continue
      // Titled cases (E1 decision points) share their template's words: only the same key makes them duplicates.
      if (normalizeText(matchKey(groups[i][0])) !== normalizeText(matchKey(groups[j][0])) && (groups[i][0].title || groups[j][0].title)) continue
      if (jaccard(sets[i], sets[j]) >= min) parent[find(j)] = find(i)
    }
  }
  const out = new Map<number, CheckedExperience[]>()
  for (let i = 0; i < n; i++) {
    const r = find(i)
    const list = out.get(r)
    if (list) list.push(...groups[i])
    else out.set(r, [...groups[i]])
  }
  return [...out.values()]
}

/** One experience for a group of duplicates: the best-supported text, summed support, weighted success rate. */
function combine(group: CheckedExperience[]): CheckedExperience {
  const best = group.reduce((a, b) => (b.support > a.support || (b.support === a.support && Math.abs(b.score ?? 0) > Math.abs(a.score ?? 0)) ? b : a))
  if (group.length === 1) return best
  const support = group.reduce((s, e) => s + e.support, 0)
  const successRate = support > 0 ? group.reduce((s, e) => s + e.support * e.successRate, 0) / support : mean(group.map((e) => e.successRate))
  return { ...best, support, successRate: clamp01(successRate), sources: [...new Set(group.flatMap((e) => e.sources))].slice(0, 50) }
}

function uniqueIds(ids: string[]): string[] {
  const seen = new Map<string, number>()
  return ids.map((id) => {
    const c = seen.get(id) ?? 0
    seen.set(id, c + 1)
    return c === 0 ? id : `${id}~${c}`
  })
}

function majorityKind(kids: readonly HekNode[]): ExperienceKind {
  const w = new Map<ExperienceKind, number>()
  for (const k of kids) w.set(k.kind, (w.get(k.kind) ?? 0) + Math.max(k.support, 1e-3))
  return [...w.entries()].sort((a, b) => b[1] - a[1])[0][0]
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x))
}
function roundVec(v: Float32Array): number[] {
  return Array.from(v, (x) => Math.round(x * 1e6) / 1e6)
}

/** The tree's invariants; returns the first problem found, or undefined. */
function checkTree(f: HekFile): string | undefined {
  const byId = new Map<string, HekNode>()
  for (const nd of f.nodes) {
    if (byId.has(nd.id)) return `node id ${nd.id} appears twice`
    byId.set(nd.id, nd)
  }
  if (f.levels.length !== f.options.levels) return `it has ${f.levels.length} levels, options.levels says ${f.options.levels}`
  const dim = f.embedder.dim
  let listed = 0
  for (const [l, lv] of f.levels.entries()) {
    if (lv.level !== l) return `levels[${l}].level is ${lv.level}`
    for (const id of lv.nodes) {
      const nd = byId.get(id)
      if (!nd) return `levels[${l}] lists node ${id}, which does not exist`
      if (nd.level !== l) return `node ${id} is listed at level ${l} but says level ${nd.level}`
      listed++
    }
  }
  if (listed !== f.nodes.length) return `${f.nodes.length - listed} node(s) are in no level`
  const top = f.levels.length - 1
  for (const nd of f.nodes) {
    if (nd.vector.length !== dim) return `node ${nd.id} has a vector of ${nd.vector.length} numbers, the embedder has ${dim} dimensions`
    if (nd.questionVector && nd.questionVector.length !== dim) return `node ${nd.id} has a questionVector of ${nd.questionVector.length} numbers, the embedder has ${dim} dimensions`
    if (nd.level === top) {
      if (nd.parent !== null) return `node ${nd.id} is at the top level but has parent ${nd.parent}`
    } else {
      const p = nd.parent === null ? undefined : byId.get(nd.parent)
      if (!p) return `node ${nd.id} (level ${nd.level}) has ${nd.parent === null ? 'no parent' : `parent ${nd.parent}, which does not exist`}`
      if (p.level !== nd.level + 1) return `node ${nd.id} (level ${nd.level}) has parent ${p.id} at level ${p.level}, expected ${nd.level + 1}`
      if (!p.children.includes(nd.id)) return `node ${p.id} does not list its child ${nd.id}`
    }
    if (nd.level === 0 && nd.children.length > 0) return `tip ${nd.id} has children`
    if (nd.level > 0) {
      if (nd.children.length === 0) return `node ${nd.id} (level ${nd.level}) has no children`
      let s = 0
      for (const cid of nd.children) {
        const c = byId.get(cid)
        if (!c) return `node ${nd.id} lists child ${cid}, which does not exist`
        if (c.parent !== nd.id) return `node ${nd.id} lists child ${cid}, whose parent is ${c.parent}`
        s += c.support
      }
      if (Math.abs(s - nd.support) > 1e-6 * Math.max(1, s)) return `node ${nd.id} has support ${nd.support}, its children add up to ${s}`
    }
  }
  const nTips = f.levels[0]?.nodes.length ?? 0
  if (f.linkage.length !== 0 && f.linkage.length !== (nTips - 1) * 4) return `linkage has ${f.linkage.length} numbers, expected ${(nTips - 1) * 4} for ${nTips} tips`
  return undefined
}
