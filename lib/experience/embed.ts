/**
 * Embeddings of experience texts. Default: TF-IDF (sublinear tf, smooth idf, L2 rows, as scikit-learn's
 * TfidfVectorizer) followed by a truncated SVD (randomized range finder with power iterations, Halko et al. 2011),
 * computed in TypeScript: the matrices are small (texts × vocabulary, a few thousand of each), so this needs
 * neither libtorch nor a dependency. The space must be learnt from text that covers what it will compare: fitted on
 * ~50 case titles alone, every word outside them vanishes and "North Norwick city in" has cosine 1 with "Brisk Bay city
 * in". So `fit` takes background texts too (the corpus, the train questions), which shape the vocabulary, the idf and
 * the components but get no vector. The fitted state (vocabulary, idf, components) is saved with the HEK so that a
 * question is embedded in the same space later. Option: an OpenAI-compatible /v1/embeddings endpoint.
 */
import OpenAI from 'openai'
import { z } from 'zod'
import { slotsAsSymbols } from './roles.js'
import { rng, stemmedTerms } from './text.js'

export interface FitOptions {
  /** Further texts the space is learnt from (corpus passages, questions); they get no vector. Remote models ignore them. */
  background?: readonly string[]
}

export interface Embedder {
  /** Learns the space from these texts (a no-op for remote models) and returns their vectors (n × dim, L2-normalised). */
  fit(texts: readonly string[], options?: FitOptions): Promise<Float32Array[]>
  /** Vectors of new texts in the fitted space. */
  embed(texts: readonly string[]): Promise<Float32Array[]>
  readonly dim: number
  /** What is needed to rebuild it (stored in the HEK file). */
  state(): EmbedderState
}

export const TfidfSvdStateSchema = z.object({
  kind: z.literal('tfidf-svd'),
  vocabulary: z.array(z.string()),
  idf: z.array(z.number()),
  /** dim × vocabulary, row-major (the right singular vectors); empty when dim = 0. */
  components: z.array(z.number()),
  dim: z.number().int().min(0),
  bigrams: z.boolean().default(true),
  /** Background texts the space was learnt from besides the embedded ones (0: the embedded texts alone). */
  background: z.number().int().min(0).default(0),
})
export const OpenAIEmbedderStateSchema = z.object({
  kind: z.literal('openai'),
  baseURL: z.string(),
  model: z.string(),
  dim: z.number().int().min(0),
})
export const EmbedderStateSchema = z.discriminatedUnion('kind', [TfidfSvdStateSchema, OpenAIEmbedderStateSchema])
export type EmbedderState = z.infer<typeof EmbedderStateSchema>

/** SVD dimensions when background texts are given (enough for the names of a corpus to keep directions of their own). */
export const BACKGROUND_DIM = 128

export interface TfidfSvdOptions {
  /**
   * SVD dimensions (default min(64, n / 2) for n texts alone, BACKGROUND_DIM = 128 with background texts; at most
   * n - 1 and the vocabulary size).
   */
  dim?: number
  /** Terms seen in fewer texts are dropped (default 1). */
  minDf?: number
  /** Also use word pairs (default true). */
  bigrams?: boolean
  seed?: number
  powerIterations?: number
}

function tokens(text: string, bigrams: boolean): string[] {
  // A role slot is one term of its own (roles.ts).
  const t = stemmedTerms(slotsAsSymbols(text))
  if (!bigrams) return t
  const out = [...t]
  for (let i = 0; i + 1 < t.length; i++) out.push(`${t[i]} ${t[i + 1]}`)
  return out
}

export class TfidfSvdEmbedder implements Embedder {
  private vocab = new Map<string, number>()
  private idf: Float64Array = new Float64Array(0)
  private components: Float64Array = new Float64Array(0)
  private k = 0
  private background = 0
  private readonly bigrams: boolean

  constructor(private readonly options: TfidfSvdOptions = {}) {
    this.bigrams = options.bigrams ?? true
  }

  get dim(): number {
    return this.k
  }

  static fromState(s: z.infer<typeof TfidfSvdStateSchema>): TfidfSvdEmbedder {
    const e = new TfidfSvdEmbedder({ bigrams: s.bigrams })
    s.vocabulary.forEach((w, i) => e.vocab.set(w, i))
    e.idf = Float64Array.from(s.idf)
    e.components = Float64Array.from(s.components)
    e.k = s.dim
    e.background = s.background
    return e
  }

  /** Background texts the space was learnt from (0 when none). */
  get backgroundTexts(): number {
    return this.background
  }

  state(): EmbedderState {
    const vocabulary: string[] = new Array(this.vocab.size)
    for (const [w, i] of this.vocab) vocabulary[i] = w
    return {
      kind: 'tfidf-svd',
      vocabulary,
      idf: Array.from(this.idf, round),
      components: Array.from(this.components, round),
      dim: this.k,
      bigrams: this.bigrams,
      background: this.background,
    }
  }

  async fit(embedded: readonly string[], options: FitOptions = {}): Promise<Float32Array[]> {
    const background = options.background ?? []
    const texts = [...embedded, ...background]
    this.background = background.length
    const n = texts.length
    const toks = texts.map((t) => tokens(t, this.bigrams))
    const df = new Map<string, number>()
    for (const ts of toks) for (const w of new Set(ts)) df.set(w, (df.get(w) ?? 0) + 1)
    const minDf = this.options.minDf ?? 1
    const words = [...df.keys()].filter((w) => (df.get(w) as number) >= minDf).sort()
    this.vocab = new Map(words.map((w, i) => [w, i]))
    const V = words.length
    this.idf = Float64Array.from(words, (w) => Math.log((1 + n) / (1 + (df.get(w) as number))) + 1)
    const rows = toks.map((ts) => this.tfidf(ts))
    const dim = this.options.dim ?? (background.length > 0 ? BACKGROUND_DIM : Math.min(64, Math.max(2, Math.floor(n / 2))))
    this.k = Math.max(0, Math.min(dim, n - 1, V))
    if (this.k === 0) {
      this.components = new Float64Array(0)
      return embedded.map(() => new Float32Array(0))
    }
    this.components = randomizedSvd(rows, V, this.k, this.options.seed ?? 0, this.options.powerIterations ?? 4)
    return rows.slice(0, embedded.length).map((r) => this.project(r))
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.project(this.tfidf(tokens(t, this.bigrams))))
  }

  /** Sparse TF-IDF row: sorted indices and values, L2-normalised. */
  private tfidf(ts: readonly string[]): SparseRow {
    const counts = new Map<number, number>()
    for (const w of ts) {
      const i = this.vocab.get(w)
      if (i !== undefined) counts.set(i, (counts.get(i) ?? 0) + 1)
    }
    const idx = [...counts.keys()].sort((a, b) => a - b)
    const val = idx.map((i) => (1 + Math.log(counts.get(i) as number)) * this.idf[i])
    const norm = Math.hypot(...val) || 1
    return { idx: Int32Array.from(idx), val: Float64Array.from(val, (v) => v / norm) }
  }

  private project(r: SparseRow): Float32Array {
    const V = this.vocab.size
    const out = new Float32Array(this.k)
    for (let c = 0; c < this.k; c++) {
      let s = 0
      for (let j = 0; j < r.idx.length; j++) s += r.val[j] * this.components[c * V + r.idx[j]]
      out[c] = s
    }
    return normalize(out)
  }
}

interface SparseRow {
  idx: Int32Array
  val: Float64Array
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6
}

export function normalize(v: Float32Array): Float32Array {
  let s = 0
  for (const x of v) s += x * x
  const n = Math.sqrt(s)
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n
  return v
}

export function cosine(a: Float32Array | readonly number[], b: Float32Array | readonly number[]): number {
  let s = 0, na = 0, nb = 0
  for (let i = 0; i < a.length; i++) {
    s += a[i] * b[i]
    na += a[i] * a[i]
    nb += b[i] * b[i]
  }
  return na > 0 && nb > 0 ? s / Math.sqrt(na * nb) : 0
}

/**
 * Top-k right singular vectors (k × V, row-major) of the sparse n × V matrix X: Y = X Ω, q power iterations
 * Y = X (Xᵀ Y) with re-orthonormalisation, Q = orth(Y), B = Qᵀ X (small), then the eigenvectors of B Bᵀ give B's
 * right singular vectors Vᵀ = Σ⁻¹ Uᵀ B. Signs are fixed (largest entry positive) so results are reproducible.
 */
export function randomizedSvd(rows: readonly SparseRow[], V: number, k: number, seed: number, q: number): Float64Array {
  const n = rows.length
  const l = Math.min(k + 8, n, V)
  const rand = rng(seed)
  const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand())
  // Ω: V × l
  const omega = new Float64Array(V * l)
  for (let i = 0; i < omega.length; i++) omega[i] = gauss()
  const XtimesDense = (M: Float64Array): Float64Array => {
    // (n × V)(V × l) → n × l
    const out = new Float64Array(n * l)
    rows.forEach((r, i) => {
      for (let j = 0; j < r.idx.length; j++) {
        const v = r.val[j]
        const base = r.idx[j] * l
        for (let c = 0; c < l; c++) out[i * l + c] += v * M[base + c]
      }
    })
    return out
  }
  const XtTimes = (Y: Float64Array): Float64Array => {
    // (V × n)(n × l) → V × l
    const out = new Float64Array(V * l)
    rows.forEach((r, i) => {
      for (let j = 0; j < r.idx.length; j++) {
        const v = r.val[j]
        const base = r.idx[j] * l
        for (let c = 0; c < l; c++) out[base + c] += v * Y[i * l + c]
      }
    })
    return out
  }
  let Y = XtimesDense(omega)
  orthonormalize(Y, n, l)
  for (let it = 0; it < q; it++) {
    const Z = XtTimes(Y)
    orthonormalize(Z, V, l)
    Y = XtimesDense(Z)
    orthonormalize(Y, n, l)
  }
  // Bᵀ = Xᵀ Q : V × l ; B Bᵀ : l × l
  const Bt = XtTimes(Y)
  const G = new Float64Array(l * l)
  for (let v = 0; v < V; v++) {
    for (let a = 0; a < l; a++) {
      const x = Bt[v * l + a]
      if (x === 0) continue
      for (let b = 0; b < l; b++) G[a * l + b] += x * Bt[v * l + b]
    }
  }
  const { values, vectors } = jacobiEigen(G, l)
  const order = Array.from({ length: l }, (_, i) => i).sort((a, b) => values[b] - values[a])
  const out = new Float64Array(k * V)
  for (let c = 0; c < k; c++) {
    const e = order[c]
    const sigma = Math.sqrt(Math.max(values[e], 0))
    if (sigma < 1e-12) continue
    // v_c = Bᵀ u_c / σ
    let maxAbs = 0
    let sign = 1
    for (let v = 0; v < V; v++) {
      let s = 0
      for (let a = 0; a < l; a++) s += Bt[v * l + a] * vectors[a * l + e]
      s /= sigma
      out[c * V + v] = s
      if (Math.abs(s) > maxAbs) {
        maxAbs = Math.abs(s)
        sign = s < 0 ? -1 : 1
      }
    }
    if (sign < 0) for (let v = 0; v < V; v++) out[c * V + v] = -out[c * V + v]
  }
  return out
}

/** Modified Gram–Schmidt on the columns of an r × c row-major matrix (a zero column stays zero). */
function orthonormalize(M: Float64Array, r: number, c: number): void {
  for (let j = 0; j < c; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0
      for (let i = 0; i < r; i++) dot += M[i * c + j] * M[i * c + p]
      for (let i = 0; i < r; i++) M[i * c + j] -= dot * M[i * c + p]
    }
    let norm = 0
    for (let i = 0; i < r; i++) norm += M[i * c + j] ** 2
    norm = Math.sqrt(norm)
    for (let i = 0; i < r; i++) M[i * c + j] = norm > 1e-12 ? M[i * c + j] / norm : 0
  }
}

/** Cyclic Jacobi eigen-decomposition of a small symmetric matrix; vectors are columns of an l × l matrix. */
function jacobiEigen(S: Float64Array, l: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(S)
  const W = new Float64Array(l * l)
  for (let i = 0; i < l; i++) W[i * l + i] = 1
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0
    for (let p = 0; p < l; p++) for (let q = p + 1; q < l; q++) off += A[p * l + q] ** 2
    if (off < 1e-22) break
    for (let p = 0; p < l; p++) {
      for (let q = p + 1; q < l; q++) {
        const apq = A[p * l + q]
        if (Math.abs(apq) < 1e-300) continue
        const theta = (A[q * l + q] - A[p * l + p]) / (2 * apq)
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let k = 0; k < l; k++) {
          const akp = A[k * l + p]
          const akq = A[k * l + q]
          A[k * l + p] = c * akp - s * akq
          A[k * l + q] = s * akp + c * akq
        }
        for (let k = 0; k < l; k++) {
          const apk = A[p * l + k]
          const aqk = A[q * l + k]
          A[p * l + k] = c * apk - s * aqk
          A[q * l + k] = s * apk + c * aqk
        }
        for (let k = 0; k < l; k++) {
          const wkp = W[k * l + p]
          const wkq = W[k * l + q]
          W[k * l + p] = c * wkp - s * wkq
          W[k * l + q] = s * wkp + c * wkq
        }
      }
    }
  }
  return { values: Float64Array.from({ length: l }, (_, i) => A[i * l + i]), vectors: W }
}

export interface OpenAIEmbedderOptions {
  baseURL: string
  model: string
  apiKey?: string
  timeoutMs?: number
  /** Texts per request (default 64). */
  batch?: number
}

/** Embeddings from an OpenAI-compatible /v1/embeddings endpoint (vLLM, llama.cpp, Ollama, …). */
export class OpenAIEmbedder implements Embedder {
  private client: OpenAI
  private d = 0
  constructor(private readonly o: OpenAIEmbedderOptions) {
    this.client = new OpenAI({ baseURL: o.baseURL, apiKey: o.apiKey ?? process.env.OPENAI_API_KEY ?? 'none', timeout: o.timeoutMs ?? 60_000, maxRetries: 2 })
  }
  static fromState(s: z.infer<typeof OpenAIEmbedderStateSchema>, apiKey?: string): OpenAIEmbedder {
    const e = new OpenAIEmbedder({ baseURL: s.baseURL, model: s.model, ...(apiKey !== undefined && { apiKey }) })
    e.d = s.dim
    return e
  }
  get dim(): number {
    return this.d
  }
  state(): EmbedderState {
    return { kind: 'openai', baseURL: this.o.baseURL, model: this.o.model, dim: this.d }
  }
  fit(texts: readonly string[]): Promise<Float32Array[]> {
    // A fixed model: nothing to learn, the background is not needed.
    return this.embed(texts)
  }
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = []
    const batch = this.o.batch ?? 64
    for (let i = 0; i < texts.length; i += batch) {
      let res
      try {
        res = await this.client.embeddings.create({ model: this.o.model, input: texts.slice(i, i + batch) as string[], encoding_format: 'float' })
      } catch (e) {
        throw new Error(`hiexp: the embeddings endpoint ${this.o.baseURL} failed: ${(e as Error).message}`)
      }
      const data = [...res.data].sort((a, b) => a.index - b.index)
      for (const d of data) out.push(normalize(Float32Array.from(d.embedding)))
    }
    if (out.length > 0) this.d = out[0].length
    return out
  }
}

export function embedderFromState(s: EmbedderState, apiKey?: string): Embedder {
  return s.kind === 'tfidf-svd' ? TfidfSvdEmbedder.fromState(s) : OpenAIEmbedder.fromState(s, apiKey)
}
