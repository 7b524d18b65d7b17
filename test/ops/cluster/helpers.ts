// Shared helpers of the cluster tests: the committed scipy fixtures, and scipy itself when this machine has it.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import type { LinkageMethod, LinkageMetric } from '../../../lib/ops/cluster/index.js'

export interface FixtureCase {
  name: string
  n: number
  d: number
  metric: LinkageMetric
  method: LinkageMethod
  input: string
  Z: number[]
  distance?: { t: number; T: number[] }[]
  maxclust?: { k: number; T: number[] }[]
  leaves?: number[]
  dendrogramLeaves?: number[]
}

export interface Fixtures {
  scipy: string
  inputs: Record<string, number[]>
  cases: FixtureCase[]
}

const here = dirname(fileURLToPath(import.meta.url))
const load = (name: string): Fixtures => JSON.parse(readFileSync(join(here, '../../fixtures/cluster', name), 'utf8'))
/** float32-representable point sets: every method and metric, ties, duplicates, cuts, dendrogram orders. */
export const fixtures: Fixtures = load('scipy.json')
/** Short-decimal point sets (multiples of 0.1, values rounded to 1-2 decimals), where scipy's exact ties are common. */
export const decimalFixtures: Fixtures = load('decimal.json')

/** Undefined when every entry of the two linkage matrices is the same double; else the first row that differs. */
export function compareExact(actual: Float64Array, expected: ArrayLike<number>): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      const r = Math.floor(i / 4)
      return `row ${r}: [${Array.from(actual.subarray(4 * r, 4 * r + 4))}] vs scipy [${Array.from({ length: 4 }, (_, c) => expected[4 * r + c])}]`
    }
  }
  return undefined
}

/** The distances are scipy's pdist bit for bit, so the linkage matrix must be the same doubles (see compareExact). */
export const compareLinkage = compareExact

let scipyChecked: boolean | undefined
/** True when `python3 -c 'import scipy'` works here. */
export function hasScipy(): boolean {
  if (scipyChecked === undefined) {
    const r = spawnSync('python3', ['-c', 'import scipy, numpy'], { encoding: 'utf8' })
    scipyChecked = r.status === 0
  }
  return scipyChecked
}

/** Runs a python snippet that reads JSON on stdin and prints JSON. */
export function python(code: string, input: unknown): unknown {
  const r = spawnSync('python3', ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 28 })
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** Deterministic pseudo-random numbers. */
export { uniform as random } from '../../../lib/util/random.js'
