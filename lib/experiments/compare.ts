// `hiexp compare`: plain GRPO (with and without dynamic sampling), GSPO, HiExp-GRPO / HiExp-GSPO and HiExp's
// controls from the same warm-started policy, with the same budget, over several seeds; then held-out EM/F1/CEM by
// hop count and by seen / held-out phrasing, paired differences with their standard error, stability (reward,
// advantage and gradient-norm variance) and efficiency (search calls, repeated searches, tokens), retrieval precision
// of the search-time cases, and the go/no-go probes of the warm start (compare_probes.ts), as a report with plots.
// Every finished run keeps its result beside it (result.json), so a killed comparison continues where it stopped.
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
import { NoExperienceError, type ExperienceSource } from '../experience/source.js'
import { shuffledHek } from '../experience/shuffle.js'
import { casePrecision } from './case_precision.js'
import { probeTable, probeWarmStart, type WarmStartProbe } from './compare_probes.js'
import { forkRun } from '../train/run_dir.js'
import { Trainer } from '../train/trainer.js'

/**
 * grpo-dynamic: GRPO with DAPO's dynamic sampling (rollout.dynamicSampling; maxDraws 4 unless the base sets it).
 * hiexp-grpo-shuffled: HiExp-GRPO with the seed's HEK shuffled (same texts, permuted across question types: content vs
 * mere context). hiexp-grpo-internalize: hiexp's internalisation variant (docs/method.md §6), an ablation.
 */
export const METHODS = ['grpo', 'grpo-dynamic', 'gspo', 'hiexp-grpo', 'hiexp-grpo-shuffled', 'hiexp-gspo', 'hiexp-grpo-internalize'] as const
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
  /** Also run the go/no-go probes of each seed's warm start on validation (compare_probes.ts). */
  probe?: boolean
  /** Only the warm starts, HEKs and probes: the go/no-go, before any RL (the test split is not scored). */
  probeOnly?: boolean
  /**
   * A finished warm-start run folder that every seed starts from (copied into seed-N/warm-start) instead of its own
   * warm start: for a machine that cannot afford one per seed. The world must not depend on the seed
   * (task.world.seed set), so that the copied policy's vocabulary and the seed's questions are the same world's.
   */
  sharedWarmStart?: string
}

/**
 * The warm-started policy alone, the same policy with a retriever that finds nothing (no-search baseline), and the
 * warm-started policy with the seed's HEK at both injection points and no RL (prompting only: the paper's ablation).
 */
export const BASELINES = ['no-search', 'warm-start', 'warm-start-hek'] as const
export type Baseline = (typeof BASELINES)[number]

export interface MethodResult {
  method: Method | Baseline
  seed: number
  test: Evaluation
  /** With the seed's HEK at both injection points: a HiExp method's own number; for the others, an evaluation with it. */
  testWithExperience?: Evaluation
  /** Of the test search calls with the HEK that got a case, the share about the hop's relation (case_precision.ts). */
  retrievalPrecision?: number
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

/** The shuffled control's HEK, in the seed's folder (also for a given HEK). */
export const shuffledHekFile = (seedDir: string) => join(seedDir, 'hek-shuffled.json')

function methodConfig(base: ResolvedTrainConfig, method: Method, outDir: string, hekFile: string): ResolvedTrainConfig {
  const hiexp = usesHek(method)
  return {
    ...base,
    outDir,
    algorithm: method.includes('gspo') ? 'gspo' : 'grpo',
    ...(method === 'grpo-dynamic' ? { rollout: { ...base.rollout, dynamicSampling: base.rollout.dynamicSampling ?? { maxDraws: 4 } } } : {}),
    experience: {
      ...base.experience,
      enabled: hiexp,
      hekFile: method === 'hiexp-grpo-shuffled' ? shuffledHekFile(dirname(outDir)) : hekFile,
      ...(method.endsWith('-internalize') ? { variant: 'internalize' as const } : {}),
    },
  }
}

/** The seed's HEK for the HiExp methods: the given file, or one distilled from the warm-started policy's rollouts. */
async function seedHek(base: ResolvedTrainConfig, seed: number, warmDir: string, hekFile: string, shuffledFile: string, given: boolean, log: (line: string) => void): Promise<HekOrigin> {
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
    if (!existsSync(shuffledFile)) shuffledHek(hek, seed).save(shuffledFile)
  } catch (error) {
    // A distiller with nothing to say is a result (reported), not a crash of the whole comparison.
    if (!(error instanceof NoExperienceError)) throw error
    origin.error = error.message
  }
  return origin
}

/** The test split with the HEK (and the retrieval precision of its search-time cases). */
async function testWithHek(trainer: Trainer, source: ExperienceSource): Promise<{ testWithExperience: Evaluation; retrievalPrecision: number }> {
  const { evaluation, rollouts } = await trainer.evaluateRollouts(trainer.task.test, { source })
  return { testWithExperience: evaluation, retrievalPrecision: casePrecision(rollouts, trainer.task.test).precision }
}

/**
 * Trains one method from the seed's warm start (or resumes it), then evaluates it on the test split, without the HEK
 * and with it (its own HEK for HiExp; the seed's HEK for the others, when there is one: GRPO evaluated with the HEK).
 * A run whose result.json exists is finished: its result is read back.
 */
async function runMethod(config: ResolvedTrainConfig, method: Method, seed: number, warmDir: string, seedHekFile: string | undefined, quiet?: boolean): Promise<MethodResult> {
  const runDir = config.outDir
  const done = join(runDir, RESULT_FILE)
  if (existsSync(done)) return readJsonFileSync(done) as MethodResult
  // Every method starts from the seed's warm start; its lines (the loss, the step-0 validation) start every curve.
  forkRun(warmDir, runDir, config)
  const trainer = await Trainer.create(config)
  const started = Date.now()
  await trainer.run({ quiet })
  await trainer.prepareExperience()
  const test = await trainer.evaluate(trainer.task.test)
  const source = config.experience.enabled
    ? trainer.experience
    : seedHekFile && existsSync(seedHekFile)
      ? trainer.experienceSource(HierarchicalExperience.load(seedHekFile, trainer.hekLoadOptions()))
      : undefined
  const withHek = source ? await testWithHek(trainer, source) : undefined
  const rl = readMetrics(join(runDir, 'metrics.jsonl')).filter((r) => r.phase === 'rl')
  const num = (r: MetricsRow, k: string) => r[k] as number
  const result: MethodResult = {
    method,
    seed,
    test,
    ...(withHek ?? {}),
    rewardGroupStd: mean(rl.map((r) => num(r, 'rewardGroupStd'))),
    zeroVarianceGroupShare: mean(rl.map((r) => num(r, 'zeroVarianceGroupShare'))),
    advantageStd: mean(rl.map((r) => num(r, 'advantageStd'))),
    gradNormVariance: windowedVariance(rl.map((r) => num(r, 'gradNorm'))),
    trainSeconds: (Date.now() - started) / 1000,
  }
  writeFileAtomic(done, JSON.stringify(result, null, 2))
  return result
}

/** A finished run's result, beside its checkpoint. */
export const RESULT_FILE = 'result.json'

/** Runs the comparison; returns every (method, seed) result and writes report.md, results.json and plots to outDir. */
export async function compare(options: CompareOptions): Promise<MethodResult[]> {
  const seeds = options.seeds ?? [0, 1, 2]
  const methods = options.methods ?? METHODS
  const log = options.log ?? ((line: string) => console.error(line))
  const shared = parseTrainConfig(options.base ?? {})
  if (options.sharedWarmStart !== undefined && (shared.task.world as { seed?: number }).seed === undefined) {
    throw new RangeError('compare: sharedWarmStart needs task.world.seed in the base configuration (one world for every seed)')
  }
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
    (r) => !seeds.includes(r.seed) || !(['no-search', 'warm-start', ...(wantsHek ? ['warm-start-hek'] : []), ...methods] as readonly string[]).includes(r.method),
  )
  const heks: HekOrigin[] = earlier<HekOrigin>('heks.json').filter((h) => !(seeds.includes(h.seed) && wantsHek))
  // Probes of an earlier go/no-go in this folder are kept unless this run probes those seeds again.
  const probing = options.probe === true || options.probeOnly === true
  const probes: WarmStartProbe[] = earlier<WarmStartProbe>('probes.json').filter((p) => !(probing && seeds.includes(p.seed)))
  const save = () => {
    writeFileAtomic(join(options.outDir, 'results.json'), JSON.stringify(results, null, 2))
    if (heks.length) writeFileAtomic(join(options.outDir, 'heks.json'), JSON.stringify(heks, null, 2))
  }
  for (const seed of seeds) {
    const given = givenFor(seed)
    const configured = parseTrainConfig({ ...options.base, seed })
    const base = given ? { ...configured, experience: { ...configured.experience, hekFile: given } } : configured
    const seedDir = join(options.outDir, `seed-${seed}`)
    // One warm start per seed, shared by every method: the comparison starts from the same policy. With
    // sharedWarmStart, every seed's is a copy of the one in sharedWarmStart's folder (the seeds then differ in the HEK's
    // build rollouts and in RL's questions and samples, not in the starting policy).
    const warmDir = join(seedDir, 'warm-start')
    if (options.sharedWarmStart) forkRun(options.sharedWarmStart, warmDir, parseTrainConfig({ ...base, outDir: warmDir, steps: 0 }))
    const warm = await Trainer.create({ ...base, outDir: warmDir, steps: 0 })
    await warm.run({ quiet: options.quiet })
    const baselinesFile = join(seedDir, 'baselines.json')
    const baselines: MethodResult[] = existsSync(baselinesFile) ? (readJsonFileSync(baselinesFile) as MethodResult[]) : []
    const baseline = async (method: Baseline, measure: () => Promise<Pick<MethodResult, 'test' | 'retrievalPrecision'>>) => {
      let r = baselines.find((b) => b.method === method)
      if (!r) {
        r = { method, seed, ...(await measure()), rewardGroupStd: NaN, advantageStd: NaN, gradNormVariance: NaN, trainSeconds: 0 }
        baselines.push(r)
        writeFileAtomic(baselinesFile, JSON.stringify(baselines, null, 2))
      }
      results.push(r)
      log(`seed ${seed} ${method}: test EM ${r.test.em.toFixed(3)}`)
    }
    // The go/no-go alone reads validation only: the test split is not scored before the comparison.
    const scoreTest = !options.probeOnly
    const noSearch = { search: async (queries: string[]) => queries.map(() => []) }
    if (scoreTest) {
      await baseline('no-search', async () => ({ test: await warm.evaluate(warm.task.test, { retriever: noSearch }) }))
      await baseline('warm-start', async () => ({ test: await warm.evaluate(warm.task.test) }))
    }
    const hekFile = given ?? join(seedDir, 'hek.json')
    let runnable = methods
    let seedHekFile: string | undefined
    if (wantsHek) {
      const origin = await seedHek(base, seed, warmDir, hekFile, shuffledHekFile(seedDir), given !== undefined, log)
      heks.push(origin)
      if (origin.error) {
        runnable = methods.filter((m) => !usesHek(m))
        log(`seed ${seed}: no HEK, HiExp methods skipped: ${origin.error}`)
      } else {
        seedHekFile = hekFile
        // Prompting only: the warm-started policy with the HEK, no RL (injection damage apart from RL's).
        if (scoreTest) await baseline('warm-start-hek', async () => {
          const r = await testWithHek(warm, warm.experienceSource(HierarchicalExperience.load(hekFile, warm.hekLoadOptions())))
          return { test: r.testWithExperience, retrievalPrecision: r.retrievalPrecision }
        })
      }
    }
    if (options.probe || options.probeOnly) {
      const file = join(seedDir, 'probes.json')
      const probe = existsSync(file) ? (readJsonFileSync(file) as WarmStartProbe) : await probeWarmStart(warm, seed, seedHekFile, seedHekFile && shuffledHekFile(seedDir))
      writeFileAtomic(file, JSON.stringify(probe, null, 2))
      probes.push(probe)
      log(`seed ${seed} go/no-go (validation): EM none ${probe.none.em.toFixed(3)}, oracle ${probe.oracle.em.toFixed(3)}, HEK ${probe.hek?.em.toFixed(3) ?? '–'}, shuffled ${probe.shuffled?.em.toFixed(3) ?? '–'}; pass@${probe.k} ${probe.passAtK.toFixed(3)}`)
      writeFileAtomic(join(options.outDir, 'probes.json'), JSON.stringify(probes, null, 2))
    }
    if (options.probeOnly) runnable = []
    for (const method of runnable) {
      const result = await runMethod(methodConfig(base, method, join(seedDir, method), hekFile), method, seed, warmDir, seedHekFile, options.quiet)
      results.push(result)
      log(`seed ${seed} ${method}: test EM ${result.test.em.toFixed(3)}${result.testWithExperience ? ` (with the HEK ${result.testWithExperience.em.toFixed(3)})` : ''}`)
      save()
      // The report after every run: a comparison stopped midway has its finished seeds written up.
      await writeCompareReport(results, options.outDir, heks, shared.task.kind === 'arithmetic' ? 'step' : 'hop', probes)
    }
    save() // also when every method of the seed was skipped: the baselines are results too
  }
  if (options.probeOnly) {
    const lines = ['# Go/no-go: the warm-started policy on validation, before RL', '', ...probeTable(probes), '']
    writeFileAtomic(join(options.outDir, 'go-no-go.md'), lines.join('\n'))
    return results
  }
  await writeCompareReport(results, options.outDir, heks, shared.task.kind === 'arithmetic' ? 'step' : 'hop', probes)
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
  probes: readonly WarmStartProbe[] = [],
): Promise<string> {
  const order = [...BASELINES, ...METHODS] as readonly string[]
  const methods = [...new Set(results.map((r) => r.method))].sort((a, b) => order.indexOf(a) - order.indexOf(b))
  const hops = [...new Set(results.flatMap((r) => Object.keys(r.test.byHops)))].sort()
  const of = (m: string) => results.filter((r) => r.method === m)
  const lines: string[] = []
  const seeds = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b)
  lines.push(`# hiexp compare: GRPO / GSPO with and without HiExp`, '')
  lines.push(`Seeds: ${seeds.join(', ')}. Values are mean ± std over seeds; held-out test split, greedy decoding.`, '')
  if (probes.length) {
    lines.push('## Go/no-go: the warm-started policy on validation, before RL', '')
    lines.push('Oracle advice is written from the phrasing table (what no distiller sees): a ceiling, never a method.', '')
    lines.push(...probeTable(probes), '')
  }
  const phrased = results.some((r) => r.test.byPhrasing)
  const byPhrasing = (e: Evaluation, key: string) => e.byPhrasing?.[key]?.em ?? NaN
  // The HiExp methods' own number is with their HEK at both injection points (docs/method.md §4); without it measures
  // what the policy internalised.
  for (const [title, pick] of [
    // warm-start-hek's own evaluation is with the HEK (prompting only): it belongs in the second table.
    ['Performance (test, without the HEK)', (r: MethodResult) => (r.method === 'warm-start-hek' ? undefined : r.test)],
    ['Performance (test, with the HEK at both injection points: the HiExp methods\' own number)', (r: MethodResult) => (r.method === 'warm-start-hek' ? r.test : r.testWithExperience)],
  ] as const) {
    const rows = methods.filter((m) => of(m).some((r) => pick(r)))
    if (rows.length === 0) continue
    lines.push(`## ${title}`, '')
    const extra = phrased ? ['EM seen phrasing', 'EM held-out phrasing'] : []
    lines.push(`| method | EM | F1 | CEM | ${[...hops.map((h) => `EM ${h}-${unit}`), ...extra].join(' | ')} |`)
    lines.push(`|---|---|---|---|${[...hops, ...extra].map(() => '---').join('|')}|`)
    for (const m of rows) {
      const es = of(m).map(pick).filter((e): e is Evaluation => e !== undefined)
      const cells = [...hops.map((h) => pm(es.map((e) => e.byHops[h]?.em ?? NaN))), ...(phrased ? ['seen', 'held-out'].map((k) => pm(es.map((e) => byPhrasing(e, k)))) : [])]
      lines.push(`| ${m} | ${pm(es.map((e) => e.em))} | ${pm(es.map((e) => e.f1))} | ${pm(es.map((e) => e.cem ?? NaN))} | ${cells.join(' | ')} |`)
    }
    if (title.includes('with the HEK at')) {
      lines.push('', 'GRPO-type rows are those policies evaluated with the seed\'s HEK; `warm-start-hek` is the warm start with it (prompting only, no RL).')
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
  lines.push(...pairedSection(results, seeds, phrased))
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
  lines.push('| method | search calls / question | with the HEK | retrieval precision with the HEK | repeated-search share | response tokens | wall s (RL + eval) |', '|---|---|---|---|---|---|---|')
  for (const m of methods) {
    const rs = of(m)
    const withHek = rs.filter((r) => r.testWithExperience).map((r) => r.testWithExperience!.searchCalls)
    const precision = rs.map((r) => r.retrievalPrecision).filter((x): x is number => x !== undefined && Number.isFinite(x))
    lines.push(
      `| ${m} | ${pm(rs.map((r) => r.test.searchCalls), 2)} | ${withHek.length ? pm(withHek, 2) : '–'} | ${precision.length ? pm(precision) : '–'} | ${pm(rs.map((r) => r.test.repeatedQueryShare))} | ${pm(rs.map((r) => r.test.responseTokens), 1)} | ${pm(rs.map((r) => r.trainSeconds), 0)} |`,
    )
  }
  lines.push('', 'Retrieval precision: of the test search calls that got a case with their documents, the share whose case is about the relation of the hop being searched.')
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

/** The number a comparison reads from a result: a method's own (HiExp with its HEK) or a named evaluation. */
type EvalPick = (r: MethodResult) => Evaluation | undefined
const own: EvalPick = (r) => r.testWithExperience && usesHekName(r.method) ? r.testWithExperience : r.test
const usesHekName = (m: string) => m.startsWith('hiexp') || m === 'warm-start-hek'

/** Mean and standard error of paired per-seed differences (NaN with fewer than 2 pairs for the error). */
export function pairedDifference(a: readonly number[], b: readonly number[]): { diffs: number[]; mean: number; se: number } {
  const diffs = a.map((x, i) => x - b[i]).filter(Number.isFinite)
  return { diffs, mean: mean(diffs), se: diffs.length > 1 ? std(diffs) / Math.sqrt(diffs.length) : NaN }
}

function pairedSection(results: readonly MethodResult[], seeds: readonly number[], phrased: boolean): string[] {
  const find = (m: string, seed: number) => results.find((r) => r.method === m && r.seed === seed)
  const comparisons: Array<[string, string, EvalPick, string, EvalPick]> = [
    ['HiExp-GRPO (its HEK) − GRPO', 'hiexp-grpo', own, 'grpo', (r) => r.test],
    ['HiExp-GRPO (its HEK) − HiExp-GRPO, shuffled HEK (its HEK)', 'hiexp-grpo', own, 'hiexp-grpo-shuffled', own],
    ['HiExp-GRPO (its HEK) − GRPO + dynamic sampling', 'hiexp-grpo', own, 'grpo-dynamic', (r) => r.test],
    ['HiExp-GRPO (its HEK) − GRPO evaluated with the HEK', 'hiexp-grpo', own, 'grpo', (r) => r.testWithExperience],
    ['GRPO + dynamic sampling − GRPO', 'grpo-dynamic', (r) => r.test, 'grpo', (r) => r.test],
    ['warm start + HEK (prompting only) − warm start', 'warm-start-hek', (r) => r.test, 'warm-start', (r) => r.test],
  ]
  const measures: Array<[string, (e: Evaluation) => number]> = [['test EM', (e) => e.em]]
  if (phrased) measures.push(['test EM, held-out phrasing', (e) => e.byPhrasing?.['held-out']?.em ?? NaN])
  const lines: string[] = []
  for (const [name, value] of measures) {
    const rows: string[] = []
    for (const [label, a, pa, b, pb] of comparisons) {
      const pairs = seeds.map((seed) => {
        const x = find(a, seed)
        const y = find(b, seed)
        const ex = x && pa(x)
        const ey = y && pb(y)
        return ex && ey ? [value(ex), value(ey)] : [NaN, NaN]
      })
      const d = pairedDifference(pairs.map((p) => p[0]), pairs.map((p) => p[1]))
      if (d.diffs.length === 0) continue
      const cells = pairs.map(([x, y]) => (Number.isFinite(x - y) ? `${x - y >= 0 ? '+' : ''}${(x - y).toFixed(3)}` : '–'))
      const verdict = d.diffs.length >= 2 && Number.isFinite(d.se) ? (Math.abs(d.mean) > 2 * d.se ? (d.mean > 0 ? 'above 2 SE' : 'below −2 SE') : 'within 2 SE') : '–'
      rows.push(`| ${label} | ${cells.join(' | ')} | ${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(3)} ± ${Number.isFinite(d.se) ? d.se.toFixed(3) : '–'} (n = ${d.diffs.length}) | ${verdict} |`)
    }
    if (!rows.length) continue
    lines.push(`## Paired differences per seed: ${name}`, '', 'Mean ± standard error of the per-seed differences (same warm start, budget and seed).', '')
    lines.push(`| comparison | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean ± SE | |`, `|---|${seeds.map(() => '---').join('|')}|---|---|`)
    lines.push(...rows, '')
  }
  return lines
}
