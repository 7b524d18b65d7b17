/**
 * The offline contrastive analyzer: the embedded default distiller, no LLM. For every behaviour feature (features.ts)
 * and every stratum of questions (all, by task type, by hop count) it counts how often trajectories with and without
 * the feature succeeded, and scores the separation two ways:
 *
 *   across questions  — the pooled 2x2 table's log-odds ratio with additive smoothing α (Haldane–Anscombe),
 *                       log[(a+α)(d+α) / ((b+α)(c+α))], its standard error sqrt(Σ 1/(cell+α)) and z = LOR / SE;
 *   within questions  — the Mantel–Haenszel log-odds ratio over the mixed groups (both outcomes present) where the
 *                       feature varies, log[Σ a_k d_k / n_k + α/K) / (Σ b_k c_k / n_k + α/K)], which compares successes
 *                       and failures of the same question and so is not fooled by easy vs hard questions.
 *
 * A stratum that spans several hop counts or task types is scored within each question type (task type and hop
 * count), never across: its log-odds ratio is the Mantel–Haenszel estimate over those types,
 * log[Σ_h a_h d_h / n_h / Σ_h b_h c_h / n_h] (cells smoothed by α), with the Robins–Breslow–Greenland standard error. Pooled across hop counts, easy 1-hop
 * questions make whatever 1-hop attempts do look good ("paste the whole question as a search query"); and where the
 * hop counts disagree (a next search built on the previous results loses on 1-hop questions and wins on 3-hop ones),
 * the broad statement is withheld and each hop count speaks for itself.
 *
 * A feature is reported when it is seen in at least `minSupport` trajectories, |z| ≥ zMin, and — where at least
 * `minGroups` mixed groups show it — the within-question sign agrees. Its sign gives the polarity: positive → a
 * success pattern ("Do X"), negative → a failure pattern ("Do not X"). The score kept is the within-question LOR when
 * available, else the pooled one. A stratum is reported only when it adds something the broader one did not say.
 *
 * Besides these behaviour statements, it writes the paper's case-level experiences (E1, cases.ts): for every question
 * with both outcomes, the decision point where a success and a failure part ways, titled by the query at that point.
 */
import { z } from 'zod'
import { isSuccess } from './pairing.js'
import { FEATURES, featureContext, trajectoryFeatures, type Feature } from './features.js'
import { firstIssue, type Distiller, type Experience, type TrajectoryGroup } from './types.js'
import { RETRIEVAL_VOCABULARY_TEXTS } from './retrieve.js'
import { CASE_PHRASES, caseExperiences } from './cases.js'
import { ROLE_SLOT_TEXTS } from './roles.js'

export const AnalyzerOptionsSchema = z
  .object({
    tau: z.number().default(1),
    rewardKey: z.string().default('total'),
    /** Additive smoothing of the 2x2 cells. */
    alpha: z.number().gt(0).default(0.5),
    /** |z| needed to report a feature. */
    zMin: z.number().min(0).default(2),
    minSupport: z.number().int().min(1).default(3),
    /** Mixed groups needed before the within-question estimate is used. */
    minGroups: z.number().int().min(1).default(2),
    strata: z.array(z.enum(['all', 'taskType', 'hops'])).default(['all', 'taskType', 'hops']),
    /** Trajectory ids kept in each experience's sources. */
    maxSources: z.number().int().min(0).default(20),
    maxExperiences: z.number().int().min(1).default(200),
    /** Case-level experiences (E1): decision points of contrasted questions (off: behaviour statements only). */
    cases: z.boolean().default(true),
    /** Distinct decision points kept per contrasted question. */
    casesPerQuestion: z.number().int().min(1).default(2),
    /** Case experiences kept at most (first questions first). */
    maxCases: z.number().int().min(0).default(1000),
  })
  .strict()
export type AnalyzerOptions = z.input<typeof AnalyzerOptionsSchema>

export interface FeatureStats {
  feature: string
  stratum: string
  when: string
  taskType: string
  hops?: number
  /** success&feature, success&¬feature, failure&feature, failure&¬feature */
  a: number
  b: number
  c: number
  d: number
  /** The log-odds ratio within hop counts (Mantel–Haenszel over them; the plain 2x2 one within a single hop count). */
  pooledLogOdds: number
  z: number
  /** The 2x2 table's log-odds ratio across hop counts (what pooledLogOdds was before it was stratified), for comparison. */
  crudeLogOdds: number
  /** Some hop count shows the opposite sign at |z| ≥ zMin: the stratum's statement is withheld. */
  heterogeneous: boolean
  withinLogOdds: number | null
  mixedGroups: number
  reported: boolean
  sources: string[]
}

interface Stratum {
  key: string
  when: string
  taskType: string
  hops?: number
  groups: TrajectoryGroup[]
}

function strata(groups: readonly TrajectoryGroup[], kinds: readonly string[]): Stratum[] {
  const out: Stratum[] = []
  const types = [...new Set(groups.map((g) => g.taskType))]
  if (kinds.includes('all')) out.push({ key: 'all', when: 'any question', taskType: types.length === 1 ? types[0] : 'any', groups: [...groups] })
  if (kinds.includes('taskType') && types.length > 1) {
    for (const t of types) out.push({ key: `taskType=${t}`, when: `${t} questions`, taskType: t, groups: groups.filter((g) => g.taskType === t) })
  }
  if (kinds.includes('hops')) {
    const hops = [...new Set(groups.map((g) => g.hops).filter((h): h is number => h !== undefined))].sort((a, b) => a - b)
    if (hops.length > 1) {
      for (const h of hops) {
        const gs = groups.filter((g) => g.hops === h)
        const ts = [...new Set(gs.map((g) => g.taskType))]
        out.push({ key: `hops=${h}`, when: `${h}-hop questions`, taskType: ts.length === 1 ? ts[0] : 'any', hops: h, groups: gs })
      }
    }
  }
  return out
}

/** A 2x2 table's smoothed log-odds ratio and its standard error (Haldane–Anscombe). */
function logOdds(a: number, b: number, c: number, d: number, al: number): { lor: number; se: number } {
  return {
    lor: Math.log(((a + al) * (d + al)) / ((b + al) * (c + al))),
    se: Math.sqrt(1 / (a + al) + 1 / (b + al) + 1 / (c + al) + 1 / (d + al)),
  }
}

/**
 * The Mantel–Haenszel log-odds ratio of several 2x2 tables [a, b, c, d] (each cell smoothed by α) and the
 * Robins–Breslow–Greenland (1986) standard error of its log.
 */
export function mantelHaenszel(tables: readonly (readonly [number, number, number, number])[], al: number): { lor: number; se: number } {
  let sR = 0, sS = 0, sPR = 0, sPSQR = 0, sQS = 0
  for (const [a0, b0, c0, d0] of tables) {
    const [a, b, c, d] = [a0 + al, b0 + al, c0 + al, d0 + al]
    const n = a + b + c + d
    const P = (a + d) / n, Q = (b + c) / n, R = (a * d) / n, S = (b * c) / n
    sR += R
    sS += S
    sPR += P * R
    sPSQR += P * S + Q * R
    sQS += Q * S
  }
  const se = Math.sqrt(sPR / (2 * sR * sR) + sPSQR / (2 * sR * sS) + sQS / (2 * sS * sS))
  return { lor: Math.log(sR / sS), se }
}

export class ContrastiveAnalyzer implements Distiller {
  readonly name = 'offline'
  private readonly o: z.output<typeof AnalyzerOptionsSchema>
  /** The statistics of the last `distill` call (every feature and stratum, reported or not). */
  lastStats: FeatureStats[] = []

  constructor(options: AnalyzerOptions = {}, private readonly features: readonly Feature[] = FEATURES) {
    const p = AnalyzerOptionsSchema.safeParse(options)
    if (!p.success) throw new RangeError(`ContrastiveAnalyzer options: ${firstIssue(p.error)}`)
    this.o = p.data
  }

  /** Statistics of every (feature, stratum). */
  analyze(groups: readonly TrajectoryGroup[]): FeatureStats[] {
    const o = this.o
    // Features of each trajectory, computed once.
    const feats = new Map<TrajectoryGroup, Array<{ id: string; ok: boolean; f: Map<string, boolean> }>>()
    for (const g of groups) {
      const ctx = featureContext(g)
      feats.set(
        g,
        g.trajectories.map((t) => ({ id: t.id, ok: isSuccess(t, o), f: trajectoryFeatures(t, ctx, this.features) })),
      )
    }
    const out: FeatureStats[] = []
    for (const s of strata(groups, o.strata)) {
      for (const feature of this.features) {
        let a = 0, b = 0, c = 0, d = 0
        let num = 0, den = 0, mixed = 0
        const sources: string[] = []
        for (const g of s.groups) {
          let ak = 0, bk = 0, ck = 0, dk = 0
          for (const t of feats.get(g)!) {
            const has = t.f.get(feature.key)
            if (has === undefined) continue
            if (has && sources.length < o.maxSources) sources.push(t.id)
            if (t.ok) has ? ak++ : bk++
            else has ? ck++ : dk++
          }
          a += ak; b += bk; c += ck; d += dk
          const nk = ak + bk + ck + dk
          // A group informs the within-question estimate when it has both outcomes and the feature varies in it.
          if (ak + bk > 0 && ck + dk > 0 && ak + ck > 0 && bk + dk > 0) {
            mixed++
            num += (ak * dk) / nk
            den += (bk * ck) / nk
          }
        }
        const al = o.alpha
        const crude = logOdds(a, b, c, d, al)
        // Within hop counts: one table per question type (task type and hop count; an unknown hop count is one of its own).
        const tables = new Map<string, [number, number, number, number]>()
        for (const g of s.groups) {
          const type = `${g.taskType}\u0000${g.hops ?? '?'}`
          const tb = tables.get(type) ?? [0, 0, 0, 0]
          for (const t of feats.get(g)!) {
            const has = t.f.get(feature.key)
            if (has === undefined) continue
            tb[t.ok ? (has ? 0 : 1) : has ? 2 : 3]++
          }
          tables.set(type, tb)
        }
        const hopTables = [...tables.values()].filter(([ta, tb, tc, td]) => ta + tb + tc + td > 0)
        const { lor: pooled, se } = hopTables.length > 1 ? mantelHaenszel(hopTables, al) : crude
        const z = pooled / se
        const heterogeneous =
          hopTables.length > 1 &&
          hopTables.some(([ta, tb, tc, td]) => {
            const h = logOdds(ta, tb, tc, td, al)
            return ta + tc >= o.minSupport && Math.abs(h.lor / h.se) >= o.zMin && Math.sign(h.lor) !== Math.sign(pooled)
          })
        const within = mixed > 0 ? Math.log((num + al / mixed) / (den + al / mixed)) : null
        const withinUsable = within !== null && mixed >= o.minGroups
        const reported =
          a + c >= o.minSupport &&
          a + b > 0 &&
          c + d > 0 &&
          Math.abs(z) >= o.zMin &&
          !heterogeneous &&
          (!withinUsable || Math.sign(within as number) === Math.sign(pooled))
        out.push({
          feature: feature.key, stratum: s.key, when: s.when, taskType: s.taskType, ...(s.hops !== undefined && { hops: s.hops }), a, b, c, d,
          pooledLogOdds: pooled, z, crudeLogOdds: crude.lor, heterogeneous, withinLogOdds: within, mixedGroups: mixed, reported, sources,
        })
      }
    }
    return out
  }

  async distill(groups: readonly TrajectoryGroup[]): Promise<Experience[]> {
    const stats = this.analyze(groups)
    this.lastStats = stats
    const byKey = new Map(this.features.map((f) => [f.key, f]))
    const general = new Map<string, FeatureStats>()
    for (const s of stats) if (s.stratum === 'all') general.set(s.feature, s)
    const out: Experience[] = []
    for (const s of stats) {
      if (!s.reported) continue
      // A narrower stratum is worth a separate experience only when the general one is silent or says the opposite.
      const g = general.get(s.feature)
      if (s.stratum !== 'all' && g?.reported && Math.sign(g.pooledLogOdds) === Math.sign(s.pooledLogOdds)) continue
      const f = byKey.get(s.feature)!
      const score = s.withinLogOdds !== null && s.mixedGroups >= this.o.minGroups ? s.withinLogOdds : s.pooledLogOdds
      const good = s.pooledLogOdds > 0
      const prefix = s.stratum === 'all' ? '' : `For ${s.when}, `
      const body = good ? f.phrase : `do not ${f.phrase}`
      const text = prefix ? `${prefix}${body}.` : `${body[0].toUpperCase()}${body.slice(1)}.`
      out.push({
        id: `offline:${s.feature}:${s.stratum}:${good ? '+' : '-'}`,
        text,
        kind: good ? 'success-pattern' : 'failure-pattern',
        when: s.when,
        taskType: s.taskType,
        support: s.a + s.c,
        successRate: (s.a) / (s.a + s.c),
        sources: s.sources,
        score,
        origin: 'offline',
        ...(s.hops !== undefined && { hops: s.hops }),
      })
    }
    out.sort((x, y) => Math.abs(y.score ?? 0) - Math.abs(x.score ?? 0) || (x.id < y.id ? -1 : 1))
    const statements = out.slice(0, this.o.maxExperiences)
    if (!this.o.cases) return statements
    const o = this.o
    const cases = caseExperiences(groups, { tau: o.tau, rewardKey: o.rewardKey, perQuestion: o.casesPerQuestion, maxSources: o.maxSources })
    return [...statements, ...cases.slice(0, o.maxCases)]
  }
}

/**
 * Every word the offline analyzer and retrieval can put into a prompt (feature phrases, strata, the header), so that
 * a word-level tokenizer built for the embedded default knows them instead of reading <unk>.
 */
export function analyzerVocabularyTexts(): string[] {
  const strata = ['For any question,', 'For multihop questions,', 'For arithmetic questions,', ...[1, 2, 3, 4].map((h) => `For ${h}-hop questions,`)]
  // Each phrase in both polarities, as a sentence of its own (capitalised) and after a stratum's prefix.
  const bodies = FEATURES.flatMap((f) => [f.phrase, `do not ${f.phrase}`])
  return [...RETRIEVAL_VOCABULARY_TEXTS, ...CASE_PHRASES, ...ROLE_SLOT_TEXTS, ...strata, ...bodies.flatMap((b) => [`${b[0].toUpperCase()}${b.slice(1)}.`, `${b}.`])]
}
