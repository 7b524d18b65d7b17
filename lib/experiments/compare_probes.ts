// The go/no-go probes of a comparison: the warm-started policy on the validation split, before any RL, with no
// advice, with the phrasing-table oracle's advice (a ceiling: it reads what no distiller sees), with the seed's HEK and
// with its shuffled copy; and pass@k of its sampled rollouts (whether RL has anything to reinforce). Chosen and read on
// validation only: the test split is left for the comparison.
import { existsSync } from 'node:fs'
import type { Evaluation } from '../agent/evaluate.js'
import { PhrasingOracleSource } from '../experience/advice.js'
import { HierarchicalExperience } from '../experience/hek.js'
import type { ExperienceSource } from '../experience/source.js'
import type { Trainer } from '../train/trainer.js'
import { casePrecision } from './case_precision.js'

export interface ProbeArm {
  em: number
  f1: number
  /** EM on questions asked in a seen / a held-out phrasing (phrasings world only). */
  emSeen?: number
  emHeldOut?: number
  emByHops: Record<string, number>
  searchCalls: number
  /** Share of fired search-time cases about the hop's relation (NaN: none fired; absent without advice). */
  retrievalPrecision?: number
}

export interface WarmStartProbe {
  seed: number
  split: 'validation'
  questions: number
  none: ProbeArm
  oracle: ProbeArm
  hek?: ProbeArm
  shuffled?: ProbeArm
  /** Sampled rollouts per question for pass@k (the run's temperature), without advice. */
  k: number
  passAtK: number
  sampledEm: number
}

function arm(e: Evaluation, precision?: number): ProbeArm {
  return {
    em: e.em,
    f1: e.f1,
    ...(e.byPhrasing?.seen && { emSeen: e.byPhrasing.seen.em }),
    ...(e.byPhrasing?.['held-out'] && { emHeldOut: e.byPhrasing['held-out'].em }),
    emByHops: Object.fromEntries(Object.entries(e.byHops).map(([h, s]) => [h, s.em])),
    searchCalls: e.searchCalls,
    ...(precision !== undefined && { retrievalPrecision: precision }),
  }
}

/** Probes the warm-started policy of `warm` (its validation split) with each advice source and pass@k. */
export async function probeWarmStart(warm: Trainer, seed: number, hekFile: string | undefined, shuffledFile: string | undefined, k = 8): Promise<WarmStartProbe> {
  const examples = warm.task.validation
  const probe = async (source?: ExperienceSource) => {
    const { evaluation, rollouts } = await warm.evaluateRollouts(examples, { ...(source && { source }) })
    return arm(evaluation, source ? casePrecision(rollouts, examples).precision : undefined)
  }
  const load = (file: string | undefined) => (file && existsSync(file) ? warm.experienceSource(HierarchicalExperience.load(file, warm.hekLoadOptions())) : undefined)
  const hek = load(hekFile)
  const shuffled = load(shuffledFile)
  const pass = await warm.passAtK(examples, k)
  return {
    seed,
    split: 'validation',
    questions: examples.length,
    none: await probe(),
    oracle: await probe(new PhrasingOracleSource()),
    ...(hek && { hek: await probe(hek) }),
    ...(shuffled && { shuffled: await probe(shuffled) }),
    k,
    passAtK: pass.passAtK,
    sampledEm: pass.sampledEm,
  }
}

const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3))

/** The probes as a markdown table, one row per seed and advice source. */
export function probeTable(probes: readonly WarmStartProbe[]): string[] {
  const lines = [
    '| seed | advice | EM | EM seen phrasing | EM held-out phrasing | F1 | search calls | retrieval precision |',
    '|---|---|---|---|---|---|---|---|',
  ]
  for (const p of probes) {
    for (const [name, a] of [['none', p.none], ['oracle (phrasing table: ceiling)', p.oracle], ['built HEK', p.hek], ['shuffled HEK', p.shuffled]] as const) {
      if (!a) continue
      lines.push(`| ${p.seed} | ${name} | ${f(a.em)} | ${f(a.emSeen)} | ${f(a.emHeldOut)} | ${f(a.f1)} | ${a.searchCalls.toFixed(2)} | ${f(a.retrievalPrecision)} |`)
    }
  }
  lines.push('', `| seed | pass@k (k, sampled, no advice) | sampled EM |`, '|---|---|---|')
  for (const p of probes) lines.push(`| ${p.seed} | ${f(p.passAtK)} (k = ${p.k}) | ${f(p.sampledEm)} |`)
  return lines
}
