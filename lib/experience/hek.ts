/**
 * The Hierarchical Experience Knowledge base (HEK, HIEXP.md §3). Experiences are deduplicated, embedded, clustered
 * with `linkage` (cosine, average by default) and cut at L levels with `levels`: level 0 holds the experiences
 * themselves (tips), level 1 the summaries of their clusters (strategies), level 2 summaries of those (principles),
 * and so on. Every node keeps its children, its parent one level up, its support (the sum of its children's) and its
 * success rate (their support-weighted mean). Saved as versioned JSON, checked by a zod schema and by the tree's
 * invariants on load, written atomically.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { levels as cutLevels } from '../ops/cluster/cut.js'
import { linkage, type LinkageMethod } from '../ops/cluster/linkage.js'
import { writeFileAtomic } from '../util/atomic.js'
import { mean } from '../util/stats.js'
import { cosine, embedderFromState, normalize, TfidfSvdEmbedder, type Embedder } from './embed.js'
import { HEK_FORMAT, HEK_VERSION, HekFileSchema, levelName, type HekFile, type HekNode } from './hek_schema.js'
import { retrieveExperiences, type Retrieval, type RetrieveOptions } from './retrieve.js'
import { offlineSummarizer, type ClusterInput, type Summarizer } from './summarize.js'
import { jaccard, normalizeText, stemmedTerms, whitespaceTokens } from './text.js'
import { ExperienceSchema, firstIssue, type Experience, type ExperienceKind } from './types.js'

export { HEK_FORMAT, HEK_VERSION, HekNodeSchema, HekFileSchema, LEVEL_NAMES, levelName, type HekNode, type HekFile } from './hek_schema.js'
export type { RetrieveOptions, RetrievedItem, Retrieval } from './retrieve.js'

export const HekOptionsSchema = z
  .object({
    /** Levels including the tips (default 3: tips → strategies → principles). */
    levels: z.number().int().min(1).max(8).default(3),
    /** Cosine-distance cut of each level above the tips (levels - 1 numbers, ascending); default from `branching`. */
    thresholds: z.array(z.number().min(0).max(2)).optional(),
    /** Without thresholds: level l aims at about n / branching^l clusters. */
    branching: z.number().gt(1).default(3),
    method: z.enum(['single', 'complete', 'average', 'weighted']).default('average'),
    /**
     * Tips of the same kind whose stemmed term sets have at least this Jaccard similarity are merged as duplicates
     * (1: exact duplicates only, after normalisation). Lexical on purpose: in a low-dimensional embedding, different
     * advice can look identical.
     */
    dedupeJaccard: z.number().min(0).max(1).default(0.8),
  })
  .strict()
export type HekOptions = z.input<typeof HekOptionsSchema> & { embedder?: Embedder; summarizer?: Summarizer }

export interface BuildStats {
  /** Experiences given, and tips after deduplication. */
  experiences: number
  tips: number
  dedupeMs: number
  embedMs: number
  linkageMs: number
  summarizeMs: number
  totalMs: number
}

/** A loaded or built HEK. Immutable: `update` returns a new one. */
export class HierarchicalExperience {
  private readonly byId: Map<string, HekNode>
  private readonly vectors: Map<string, Float32Array>

  private constructor(readonly file: HekFile, readonly embedder: Embedder, private readonly summarizer: Summarizer = offlineSummarizer) {
    this.byId = new Map(file.nodes.map((n) => [n.id, n]))
    this.vectors = new Map(file.nodes.map((n) => [n.id, Float32Array.from(n.vector)]))
  }

  get nodes(): readonly HekNode[] {
    return this.file.nodes
  }
  get levelCount(): number {
    return this.file.levels.length
  }
  /** Node ids of level l (0 = tips). */
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
  /** The tips as experiences (what `update` starts from). */
  experiences(): Experience[] {
    return this.level(0).map((n) => {
      const e: Experience = { id: n.id, text: n.text, kind: n.kind, when: n.when, taskType: n.taskType, support: n.support, successRate: n.successRate, sources: n.sources }
      if (n.score !== undefined) e.score = n.score
      if (n.origin !== undefined) e.origin = n.origin
      if (n.hops !== undefined) e.hops = n.hops
      return e
    })
  }

  static async build(experiences: readonly Experience[], options: HekOptions = {}): Promise<HierarchicalExperience> {
    const { embedder: givenEmbedder, summarizer = offlineSummarizer, ...rest } = options
    const p = HekOptionsSchema.safeParse(rest)
    if (!p.success) throw new RangeError(`HEK options: ${firstIssue(p.error)}`)
    const o = p.data
    if (o.thresholds && o.thresholds.length !== o.levels - 1) {
      throw new RangeError(`HEK options: thresholds must hold levels - 1 = ${o.levels - 1} numbers, got ${o.thresholds.length}`)
    }
    if (o.thresholds?.some((t, i) => i > 0 && t < (o.thresholds as number[])[i - 1])) {
      throw new RangeError(`HEK options: thresholds must be ascending (finer levels first), got ${o.thresholds?.join(', ')}`)
    }
    // The parsed copies are built on: the schema cleans and bounds the text (sanitize.ts).
    const checked = experiences.map((e, i) => {
      const r = ExperienceSchema.safeParse(e)
      if (!r.success) throw new TypeError(`HEK: experiences[${i}]: ${firstIssue(r.error)}`)
      return r.data
    })
    if (experiences.length === 0) throw new RangeError('HEK: experiences must hold at least one experience')
    const embedder = givenEmbedder ?? new TfidfSvdEmbedder()
    const t0 = performance.now()

    // ---- exact duplicates -------------------------------------------------------------------------------------
    let tips = mergeDuplicates(checked.map((e) => [e]))
    const t1 = performance.now()
    // ---- near duplicates, then embed (the space is fitted on what is kept) -------------------------------------
    if (o.dedupeJaccard < 1 && tips.length > 1) tips = mergeNear(tips, o.dedupeJaccard)
    const t1b = performance.now()
    const vecs = await embedder.fit(tips.map((g) => g[0].text))
    const t2 = performance.now()
    const leaves = tips.map(combine)
    const n = leaves.length
    const d = embedder.dim

    // ---- cluster and cut ----------------------------------------------------------------------------------------
    let Z: Float64Array = new Float64Array(0)
    let thresholds: number[] = []
    let assignments: Int32Array[] = [] // per level >= 1: tip → cluster id
    if (o.levels > 1) {
      if (n >= 2 && d > 0) {
        const flat = new Float32Array(n * d)
        vecs.forEach((v, i) => flat.set(v, i * d))
        // A zero vector (a text with no known term) has no cosine distance: nudge it onto a dimension of its own.
        for (let i = 0; i < n; i++) if (vecs[i].every((x) => x === 0)) flat[i * d] = 1e-6
        Z = await linkage(flat, n, d, { method: o.method as LinkageMethod, metric: 'cosine' })
        thresholds = o.thresholds ?? autoThresholds(Z, n, o.levels, o.branching)
        const unique = [...new Set(thresholds)].sort((a, b) => a - b)
        const lv = cutLevels(Z, n, unique)
        assignments = thresholds.map((t) => lv[unique.indexOf(t)].assignment)
      } else {
        thresholds = o.thresholds ?? Array.from({ length: o.levels - 1 }, () => 0)
        // One tip (or no usable embedding): everything is one cluster per level.
        assignments = thresholds.map(() => new Int32Array(n))
      }
    }
    const t3 = performance.now()

    // ---- nodes, level by level ------------------------------------------------------------------------------------
    const L = o.levels
    const nodes: HekNode[] = []
    const levelIds: string[][] = []
    const leafIds = uniqueIds(leaves.map((e) => e.id))
    levelIds.push(leafIds)
    leaves.forEach((e, i) => {
      const node: HekNode = {
        id: leafIds[i], level: 0, text: e.text, kind: e.kind, when: e.when, taskType: e.taskType, support: e.support,
        successRate: e.successRate, parent: null, children: [], sources: e.sources, terms: [], vector: roundVec(vecs[i]),
      }
      if (e.score !== undefined) node.score = e.score
      if (e.origin !== undefined) node.origin = e.origin
      if (e.hops !== undefined) node.hops = e.hops
      nodes.push(node)
    })
    let below: HekNode[] = nodes.slice()
    let belowOf: Int32Array = Int32Array.from({ length: n }, (_, i) => i) // tip → index in `below`
    let summarizeMs = 0
    for (let l = 1; l < L; l++) {
      const a = assignments[l - 1]
      const k = Math.max(0, ...a) + 1
      const children: number[][] = Array.from({ length: k }, () => [])
      const tipsOf: number[][] = Array.from({ length: k }, () => [])
      const seen = new Set<number>()
      for (let i = 0; i < n; i++) {
        tipsOf[a[i]].push(i)
        const child = belowOf[i]
        if (!seen.has(child)) {
          seen.add(child)
          children[a[i]].push(child)
        }
      }
      const inputs: ClusterInput[] = children.map((cs) => ({
        level: l,
        levelName: levelName(l, L),
        members: cs.map((c) => ({ ...below[c], vector: Float32Array.from(below[c].vector) })),
      }))
      const s0 = performance.now()
      const summaries = await summarizer.summarize(inputs)
      summarizeMs += performance.now() - s0
      const current: HekNode[] = children.map((cs, c) => {
        const kids = cs.map((i) => below[i])
        const support = kids.reduce((s, x) => s + x.support, 0)
        const successRate = support > 0 ? kids.reduce((s, x) => s + x.support * x.successRate, 0) / support : mean(kids.map((x) => x.successRate))
        const centroid = new Float32Array(d)
        for (const i of tipsOf[c]) for (let j = 0; j < d; j++) centroid[j] += Math.max(leaves[i].support, 1e-3) * vecs[i][j]
        const taskTypes = new Set(kids.map((x) => x.taskType))
        const hops = new Set(kids.map((x) => x.hops))
        const node: HekNode = {
          id: `L${l}.${c}`,
          level: l,
          text: summaries[c].text,
          kind: levelName(l, L) === 'principle' ? 'principle' : majorityKind(kids),
          when: summaries[c].when,
          taskType: taskTypes.size === 1 ? [...taskTypes][0] : 'any',
          support,
          successRate: clamp01(successRate),
          parent: null,
          children: kids.map((x) => x.id),
          sources: [...new Set(kids.flatMap((x) => x.sources))].slice(0, 50),
          terms: summaries[c].terms,
          vector: roundVec(normalize(centroid)),
        }
        const [h] = hops
        if (hops.size === 1 && h !== undefined) node.hops = h
        return node
      })
      children.forEach((cs, c) => {
        for (const i of cs) below[i].parent = current[c].id
      })
      nodes.push(...current)
      levelIds.push(current.map((x) => x.id))
      below = current
      belowOf = a
    }
    const t4 = performance.now()
    const build: BuildStats = {
      experiences: experiences.length,
      tips: n,
      dedupeMs: t1b - t0,
      embedMs: t2 - t1b,
      linkageMs: t3 - t2 - 0,
      summarizeMs,
      totalMs: t4 - t0,
    }
    const file: HekFile = {
      format: HEK_FORMAT,
      version: HEK_VERSION,
      createdAt: new Date().toISOString(),
      options: { levels: L, thresholds, method: o.method, summarizer: summarizer.name },
      embedder: embedder.state(),
      levels: levelIds.map((ids, l) => ({ level: l, name: levelName(l, L), threshold: l === 0 ? null : thresholds[l - 1], nodes: ids })),
      nodes,
      linkage: Array.from(Z),
      build: { ...build },
    }
    const hek = new HierarchicalExperience(file, embedder, summarizer)
    hek.rebuildOptions = { ...o, thresholds: o.thresholds }
    return hek
  }

  private rebuildOptions: z.output<typeof HekOptionsSchema> | undefined

  /**
   * Dynamic HEK (HIEXP.md §6): the tips of this HEK plus `experiences`, deduplicated and re-clustered from scratch
   * into a new HEK (this one is unchanged, so a trainer can swap the reference atomically). `buildStats` of the
   * result holds the rebuild's cost.
   */
  async update(experiences: readonly Experience[], options: HekOptions = {}): Promise<HierarchicalExperience> {
    const base = this.rebuildOptions ?? {
      levels: this.file.options.levels,
      method: this.file.options.method as 'average',
    }
    const embedder = options.embedder ?? (this.file.embedder.kind === 'tfidf-svd' ? new TfidfSvdEmbedder() : this.embedder)
    return HierarchicalExperience.build([...this.experiences(), ...experiences], {
      ...base,
      ...options,
      embedder,
      summarizer: options.summarizer ?? this.summarizer,
    })
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
    if (typeof value === 'object' && value !== null) {
      const v = value as { format?: unknown; version?: unknown }
      if (v.format !== undefined && v.format !== HEK_FORMAT) throw bad(`format is ${JSON.stringify(v.format)}, expected "${HEK_FORMAT}"`)
      if (typeof v.version === 'number' && v.version !== HEK_VERSION) {
        throw bad(`version ${v.version} is not supported (this hiexp reads version ${HEK_VERSION})`)
      }
    }
    const p = HekFileSchema.safeParse(value)
    if (!p.success) throw bad(firstIssue(p.error))
    const problem = checkTree(p.data)
    if (problem) throw bad(problem)
    return new HierarchicalExperience(p.data, embedderFromState(p.data.embedder, options.apiKey), options.summarizer)
  }

  /** A text embedded in this HEK's space (a question, for retrieval). */
  async embedQuery(text: string): Promise<Float32Array> {
    const [q] = await this.embedder.embed([text])
    return q
  }

  /** Cosine similarity of a text (or an embedded query) to every node of a level. */
  async similarities(query: string | Float32Array, level: number): Promise<Array<{ node: HekNode; similarity: number }>> {
    const q = typeof query === 'string' ? await this.embedQuery(query) : query
    return this.level(level).map((node) => ({ node, similarity: q.length > 0 ? cosine(q, this.vectors.get(node.id) as Float32Array) : 0 }))
  }

  /** See retrieve.ts. */
  async retrieve(question: string, options: RetrieveOptions = {}): Promise<Retrieval> {
    return retrieveExperiences(this, question, options)
  }
}

export const defaultCountTokens = whitespaceTokens

// ---- helpers ----------------------------------------------------------------------------------------------------

function mergeDuplicates(groups: Experience[][]): Experience[][] {
  const byText = new Map<string, Experience[]>()
  for (const g of groups) {
    for (const e of g) {
      const key = `${e.kind}\u0000${normalizeText(e.text)}`
      const list = byText.get(key)
      if (list) list.push(e)
      else byText.set(key, [e])
    }
  }
  return [...byText.values()]
}

/** Union of tips of the same kind whose stemmed term sets overlap by at least `min` (Jaccard), by single linkage. */
function mergeNear(groups: Experience[][], min: number): Experience[][] {
  const n = groups.length
  const sets = groups.map((g) => new Set(stemmedTerms(g[0].text)))
  const parent = Int32Array.from({ length: n }, (_, i) => i)
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])))
  for (let i = 0; i < n; i++) {
    if (sets[i].size === 0) continue
    for (let j = i + 1; j < n; j++) {
      if (groups[i][0].kind !== groups[j][0].kind) continue
      if (jaccard(sets[i], sets[j]) >= min) parent[find(j)] = find(i)
    }
  }
  const out = new Map<number, Experience[]>()
  for (let i = 0; i < n; i++) {
    const r = find(i)
    const list = out.get(r)
    if (list) list.push(...groups[i])
    else out.set(r, [...groups[i]])
  }
  return [...out.values()]
}

/** One experience for a group of duplicates: the best-supported text, summed support, weighted success rate. */
function combine(group: Experience[]): Experience {
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

/** Heights that cut the tree into about n / branching^l clusters at level l (strictly fewer going up). */
function autoThresholds(Z: Float64Array, n: number, L: number, branching: number): number[] {
  const heights = Array.from({ length: n - 1 }, (_, k) => Z[4 * k + 2]).sort((a, b) => a - b)
  const out: number[] = []
  let prev = n
  for (let l = 1; l < L; l++) {
    let c = Math.max(1, Math.round(n / branching ** l))
    if (c >= prev && prev > 1) c = prev - 1
    prev = c
    // Applying the n - c lowest merges leaves c clusters.
    out.push(c >= n ? 0 : heights[n - c - 1])
  }
  return out
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
