// `hiexp compare`: plain GRPO, plain GSPO, HiExp-GRPO and HiExp-GSPO from the same warm-started policy, with the
// same budget, over several seeds; then held-out EM/F1 by hop count, stability (reward, advantage and gradient-norm
// variance) and efficiency (search calls, repeated searches, tokens), as a markdown report with plots.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Evaluation } from '../agent/evaluate.js'
import { writeFileAtomic } from '../util/atomic.js'
import { readJsonFileSync } from '../util/json_file.js'
import { mean as meanOf, std, variance } from '../util/stats.js'
import { writeChart } from '../report/charts.js'
import { readMetrics, type MetricsRow } from '../report/metrics.js'
import { plotTraining } from '../report/training_plot.js'
import { parseTrainConfig, type ResolvedTrainConfig, type TrainConfig } from '../train/config.js'
import { HierarchicalExperience } from '../experience/hek.js'
import { NoExperienceError } from '../experience/source.js'
import { forkRun } from '../train/run_dir.js'
import { Trainer } from '../train/trainer.js'

/** hiexp-grpo-internalize: hiexp's internalisation variant (docs/method.md §6), an ablation of the paper's form. */
export const METHODS = ['grpo', 'gspo', 'hiexp-grpo', 'hiexp-gspo', 'hiexp-grpo-internalize'] as const
export type Method = (typeof METHODS)[number]

export interface CompareOptions {
  outDir: string
  seeds?: number[]
  methods?: readonly Method[]
  /** Base configuration every method starts from (steps, sizes, warm start, …). */
  base?: TrainConfig
  log?: (line: string) => void
  /** No progress bars (tests, logs). */
  quiet?: boolean
}

/** The warm-started policy alone, and the same policy with a retriever that finds nothing (no-search baseline). */
export const BASELINES = ['no-search', 'warm-start'] as const
export type Baseline = (typeof BASELINES)[number]

export interface MethodResult {
  method: Method | Baseline
  seed: number
  test: Evaluation
  testWithExperience?: Evaluation
  /** Means over the RL steps. */
  rewardGroupStd: number
  /** Share of groups whose rewards were all equal (no gradient), mean over RL steps. */
  zeroVarianceGroupShare?: number
  advantageStd: number
  /** Variance of the gradient norm within windows of 10 steps, averaged over windows. */
  gradNormVariance: number
  trainSeconds: number
}

const mean = (xs: readonly number[]) => meanOf(xs, NaN)

function windowedVariance(values: readonly number[], window = 10): number {
  const out: number[] = []
  for (let i = 0; i + window <= values.length; i += window) {
    const w = values.slice(i, i + window)
    out.push(variance(w))
  }
  return out.length ? mean(out) : NaN
}

/** Where a seed's HiExp methods got their HEK: a given file, or built from the warm-started policy (or why not). */
export interface HekOrigin {
  seed: number
  file: string
  /** 'file': experience.hekFile of the base configuration; 'built': distilled from the warm-started policy's rollouts. */
  source: 'file' | 'built'
  distiller: string
  experiences?: number
  /** Share of the search-time cases that fire on the train split's gold queries with the query's relation (hek.json build.retrievalPrecision). */
  retrievalPrecision?: number
  /** The build failed (e.g. a distiller that wrote no valid experience): this seed has no HiExp runs. */
  error?: string
}

/** The methods that train with experiences (and so need the seed's HEK). */
const usesHek = (method: Method) => method.startsWith('hiexp')

function methodConfig(base: ResolvedTrainConfig, method: Method, outDir: string, hekFile: string): ResolvedTrainConfig {
  const hiexp = usesHek(method)
  return {
    ...base,
    outDir,
    algorithm: method.includes('gspo') ? 'gspo' : 'grpo',
    experience: { ...base.experience, enabled: hiexp, hekFile, ...(method.endsWith('-internalize') ? { variant: 'internalize' as const } : {}) },
  }
}

/** The seed's HEK for the HiExp methods: the given file, or one distilled from the warm-started policy's rollouts. */
async function seedHek(base: ResolvedTrainConfig, seed: number, warmDir: string, hekFile: string, given: boolean, log: (line: string) => void): Promise<HekOrigin> {
  const origin: HekOrigin = { seed, file: hekFile, source: given ? 'file' : 'built', distiller: base.experience.distiller }
  try {
    let hek: HierarchicalExperience
    if (given || existsSync(hekFile)) {
      const endpoint = base.experience.embeddingEndpoint
      hek = HierarchicalExperience.load(hekFile, endpoint ? { embeddingEndpoint: endpoint } : {})
    } else {
      // Built by a run of its own that starts from the warm start: the warm start's folder stays that run's.
      const config = { ...base, outDir: join(dirname(hekFile), 'hek-build'), steps: 0, experience: { ...base.experience, enabled: true, hekFile: undefined } }
      forkRun(warmDir, config.outDir, parseTrainConfig(config))
      const builder = await Trainer.create(config)
      hek = (await builder.prepareExperience())!
      hek.save(hekFile)
      log(`seed ${seed}: HEK built from the warm-started policy (${hekFile})`)
    }
    origin.experiences = hek.level(0).length
    const precision = hek.buildStats.retrievalPrecision
    if (precision !== undefined) origin.retrievalPrecision = precision
  } catch (error) {
    // A distiller with nothing to say is a result (reported), not a crash of the whole comparison.
    if (!(error instanceof NoExperienceError)) throw error
    origin.error = error.message
  }
  return origin
}

/** Trains one method from the seed's warm start (or resumes it), then evaluates it on the test split. */
async function runMethod(config: ResolvedTrainConfig, method: Method, seed: number, warmDir: string, quiet?: boolean): Promise<MethodResult> {
  const runDir = config.outDir
  // Every method starts from the seed's warm start; its lines (the loss, the step-0 validation) start every curve.
  forkRun(warmDir, runDir, config)
  const trainer = await Trainer.create(config)
  const started = Date.now()
  await trainer.run({ quiet })
  await trainer.prepareExperience()
  const test = await trainer.evaluate(trainer.task.test)
  const testWithExperience = config.experience.enabled ? await trainer.evaluate(trainer.task.test, { withExperience: true }) : undefined
  const rl = readMetrics(join(runDir, 'metrics.jsonl')).filter((r) => r.phase === 'rl')
  const num = (r: MetricsRow, k: string) => r[k] as number
  return {
    method,
    seed,
    test,
    ...(testWithExperience ? { testWithExperience } : {}),
    rewardGroupStd: mean(rl.map((r) => num(r, 'rewardGroupStd'))),
    zeroVarianceGroupShare: mean(rl.map((r) => num(r, 'zeroVarianceGroupShare'))),
    advantageStd: mean(rl.map((r) => num(r, 'advantageStd'))),
    gradNormVariance: windowedVariance(rl.map((r) => num(r, 'gradNorm'))),
    trainSeconds: (Date.now() - started) / 1000,
  }
}

/** Runs the comparison; returns every (method, seed) result and writes report.md, results.json and plots to outDir. */
export async function compare(options: CompareOptions): Promise<MethodResult[]> {
  const seeds = options.seeds ?? [0, 1, 2]
  const methods = options.methods ?? METHODS
  const log = options.log ?? ((line: string) => console.error(line))
  const shared = parseTrainConfig(options.base ?? {})
  const wantsHek = methods.some(usesHek)
  // A HEK given in the base configuration (e.g. one built on another task: the cross-task check) is used as is, with
  // `{seed}` in its path replaced by the seed; a missing one is a typo, refused before any training. Without one, a
  // HEK is built per seed from the warm-started policy (and one that cannot be built is a result, reported).
  const givenFor = (seed: number) => shared.experience.hekFile?.replaceAll('{seed}', String(seed))
  if (wantsHek && shared.experience.hekFile) {
    const missing = seeds.map((seed) => givenFor(seed)!).filter((f) => !existsSync(f))
    if (missing.length) throw new RangeError(`compare: experience.hekFile: no HEK file at ${missing.join(', ')}`)
  }
  // Results of an earlier compare into the same folder (other seeds or methods, e.g. an ablation added later) are kept;
  // what this run measures again replaces them.
  const earlier = <T>(file: string): T[] => (existsSync(join(options.outDir, file)) ? (readJsonFileSync(join(options.outDir, file)) as T[]) : [])
  const results: MethodResult[] = earlier<MethodResult>('results.json').filter(
    (r) => !seeds.includes(r.seed) || !([...BASELINES, ...methods] as readonly string[]).includes(r.method),
  )
  const heks: HekOrigin[] = earlier<HekOrigin>('heks.json').filter((h) => !(seeds.includes(h.seed) && wantsHek))
  const save = () => {
    writeFileAtomic(join(options.outDir, 'results.json'), JSON.stringify(results, null, 2))
    if (heks.length) writeFileAtomic(join(options.outDir, 'heks.json'), JSON.stringify(heks, null, 2))
  }
  for (const seed of seeds) {
    const given = givenFor(seed)
    const configured = parseTrainConfig({ ...options.base, seed })
    const base = given ? { ...configured, experience: { ...configured.experience, hekFile: given } } : configured
    const seedDir = join(options.outDir, `seed-${seed}`)
    // One warm start per seed, shared by every method: the comparison starts from the same policy.
    const warmDir = join(seedDir, 'warm-start')
    const warm = await Trainer.create({ ...base, outDir: warmDir, steps: 0 })
    await warm.run({ quiet: options.quiet })
    const noSearch = { search: async (queries: string[]) => queries.map(() => []) }
    for (const [method, retriever] of [['no-search', noSearch], ['warm-start', warm.task.retriever]] as const) {
      const test = await warm.evaluate(warm.task.test, { retriever })
      results.push({ method, seed, test, rewardGroupStd: NaN, advantageStd: NaN, gradNormVariance: NaN, trainSeconds: 0 })
      log(`seed ${seed} ${method}: test EM ${test.em.toFixed(3)}`)
    }
    const hekFile = given ?? join(seedDir, 'hek.json')
    let runnable = methods
    if (wantsHek) {
      const origin = await seedHek(base, seed, warmDir, hekFile, given !== undefined, log)
      heks.push(origin)
      if (origin.error) {
        runnable = methods.filter((m) => !usesHek(m))
        log(`seed ${seed}: no HEK, HiExp methods skipped: ${origin.error}`)
      }
    }
    for (const method of runnable) {
      const result = await runMethod(methodConfig(base, method, join(seedDir, method), hekFile), method, seed, warmDir, options.quiet)
      results.push(result)
      log(`seed ${seed} ${method}: test EM ${result.test.em.toFixed(3)}${result.testWithExperience ? ` (with experience ${result.testWithExperience.em.toFixed(3)})` : ''}`)
      save()
    }
    save() // also when every method of the seed was skipped: the baselines are results too
  }
  await writeCompareReport(results, options.outDir, heks, shared.task.kind === 'arithmetic' ? 'step' : 'hop')
  return results
}

const pm = (xs: readonly number[], digits = 3) => {
  if (!xs.every(Number.isFinite)) return '–'
  return xs.length > 1 ? `${mean(xs).toFixed(digits)} ± ${std(xs).toFixed(digits)}` : mean(xs).toFixed(digits)
}

/**
 * report.md (tables, mean ± std over seeds) and plots. `unit` names what the questions' `hops` count: hops of the
 * multi-hop world, or operations of the arithmetic family.
 */
export async function writeCompareReport(
  results: readonly MethodResult[],
  outDir: string,
  heks: readonly HekOrigin[] = [],
  unit: 'hop' | 'step' = 'hop',
): Promise<string> {
  const order = [...BASELINES, ...METHODS] as readonly string[]
  const methods = [...new Set(results.map((r) => r.method))].sort((a, b) => order.indexOf(a) - order.indexOf(b))
  const hops = [...new Set(results.flatMap((r) => Object.keys(r.test.byHops)))].sort()
  const of = (m: string) => results.filter((r) => r.method === m)
  const lines: string[] = []
  const seeds = [...new Set(results.map((r) => r.seed))]
  lines.push(`# hiexp compare: GRPO / GSPO with and without HiExp`, '')
  lines.push(`Seeds: ${seeds.join(', ')}. Values are mean ± std over seeds; held-out test split, greedy decoding.`, '')
  // The HiExp methods' own number is with their HEK at both injection points (docs/method.md §4); without it measures
  // what the policy internalised.
  for (const [title, pick] of [
    ['Performance (test, without the HEK)', (r: MethodResult) => r.test],
    ['Performance (test, with the HEK at both injection points: the HiExp methods\' own number)', (r: MethodResult) => r.testWithExperience],
  ] as const) {
    const rows = methods.filter((m) => of(m).some((r) => pick(r)))
    if (rows.length === 0) continue
    lines.push(`## ${title}`, '')
    lines.push(`| method | EM | F1 | CEM | ${hops.map((h) => `EM ${h}-${unit}`).join(' | ')} |`)
    lines.push(`|---|---|---|---|${hops.map(() => '---').join('|')}|`)
    for (const m of rows) {
      const es = of(m).map(pick).filter((e): e is Evaluation => e !== undefined)
      lines.push(
        `| ${m} | ${pm(es.map((e) => e.em))} | ${pm(es.map((e) => e.f1))} | ${pm(es.map((e) => e.cem ?? NaN))} | ${hops.map((h) => pm(es.map((e) => e.byHops[h]?.em ?? NaN))).join(' | ')} |`,
      )
    }
    lines.push('')
  }
  // Per seed: each HiExp method (with its HEK) against its plain algorithm from the same warm start.
  const pairs = methods.filter((m) => m.startsWith('hiexp')).map((m) => [m, m.includes('gspo') ? 'gspo' : 'grpo'] as const).filter(([, b]) => of(b).length)
  if (pairs.length) {
    lines.push('## Per seed: HiExp (with its HEK) minus its plain algorithm, test EM', '')
    lines.push(`| comparison | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean ± std |`, `|---|${seeds.map(() => '---').join('|')}|---|`)
    for (const [m, b] of pairs) {
      const diffs = seeds.map((seed) => {
        const h = of(m).find((r) => r.seed === seed)
        const g = of(b).find((r) => r.seed === seed)
        return h && g ? (h.testWithExperience ?? h.test).em - g.test.em : NaN
      })
      const cells = seeds.map((seed, i) => {
        const h = of(m).find((r) => r.seed === seed)
        const g = of(b).find((r) => r.seed === seed)
        return h && g ? `${(h.testWithExperience ?? h.test).em.toFixed(3)} − ${g.test.em.toFixed(3)} = ${diffs[i] >= 0 ? '+' : ''}${diffs[i].toFixed(3)}` : '–'
      })
      lines.push(`| ${m} − ${b} | ${cells.join(' | ')} | ${pm(diffs.filter(Number.isFinite))} |`)
    }
    lines.push('')
  }
  lines.push('`no-search`: the warm-started policy with a retriever that returns nothing; `warm-start`: the warm-started policy before RL.')
  lines.push('Wall time counts the RL steps and evaluations this process ran (a resumed run counts only what was left).')
  lines.push('', `## Stability (over RL steps)`, '')
  lines.push('| method | reward std within groups | zero-variance group share | advantage std | grad-norm variance (10-step windows) |', '|---|---|---|---|---|')
  for (const m of methods.filter((x) => !(BASELINES as readonly string[]).includes(x))) {
    const rs = of(m)
    lines.push(
      `| ${m} | ${pm(rs.map((r) => r.rewardGroupStd))} | ${pm(rs.map((r) => r.zeroVarianceGroupShare ?? NaN))} | ${pm(rs.map((r) => r.advantageStd))} | ${pm(rs.map((r) => r.gradNormVariance), 4)} |`,
    )
  }
  lines.push('', `## Efficiency (test)`, '')
  lines.push('| method | search calls / question | with the HEK | repeated-search share | response tokens | wall s (RL + eval) |', '|---|---|---|---|---|---|')
  for (const m of methods) {
    const rs = of(m)
    const withHek = rs.filter((r) => r.testWithExperience).map((r) => r.testWithExperience!.searchCalls)
    lines.push(
      `| ${m} | ${pm(rs.map((r) => r.test.searchCalls), 2)} | ${withHek.length ? pm(withHek, 2) : '–'} | ${pm(rs.map((r) => r.test.repeatedQueryShare))} | ${pm(rs.map((r) => r.test.responseTokens), 1)} | ${pm(rs.map((r) => r.trainSeconds), 0)} |`,
    )
  }
  if (heks.length) {
    lines.push('', '## HEK used by the HiExp methods', '', '| seed | source | distiller | experiences (tips) | file / why none |', '|---|---|---|---:|---|')
    for (const h of heks) {
      lines.push(`| ${h.seed} | ${h.source} | ${h.distiller} | ${h.experiences ?? '–'} | ${h.error ? `**no HEK**: ${h.error.replaceAll('|', '\\|')}` : h.file} |`)
    }
  }
  const trained = results.filter((r) => !(BASELINES as readonly string[]).includes(r.method))
  const training = trained.length
    ? await plotTraining(
        trained.map((r) => ({ name: r.method, metricsFile: join(outDir, `seed-${r.seed}`, r.method, 'metrics.jsonl') })),
        join(outDir, 'training'),
        'Training curves (mean over seeds)',
      )
    : undefined
  const byHop = await writeChart(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: `Held-out EM by ${unit} count (mean over seeds)`,
      data: { values: results.flatMap((r) => Object.entries(r.test.byHops).map(([h, s]) => ({ method: r.method, hops: `${h}-${unit}`, em: s.em }))) },
      width: 360,
      height: 220,
      mark: 'bar',
      encoding: {
        x: { field: 'hops', type: 'nominal', title: null },
        xOffset: { field: 'method' },
        y: { aggregate: 'mean', field: 'em', type: 'quantitative', title: 'EM' },
        color: { field: 'method', type: 'nominal' },
      },
    },
    join(outDir, 'em-by-hops'),
  )
  if (training) lines.push('', `![training curves](${training.png.split('/').at(-1)})`)
  lines.push('', `![EM by ${unit} count](${byHop.png.split('/').at(-1)})`, '')
  const path = join(outDir, 'report.md')
  writeFileAtomic(path, lines.join('\n'))
  return path
}
