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
export const fixtures: Fixtures = JSON.parse(readFileSync(join(here, '../../fixtures/cluster/scipy.json'), 'utf8'))

/** Heights equal to ~1e-12 relative (the blocked Gram distances are not bit-identical to pdist's for far pairs). */
export function compareLinkage(actual: Float64Array, expected: ArrayLike<number>): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`
  for (let r = 0; r < actual.length / 4; r++) {
    for (const c of [0, 1, 3]) {
      if (actual[4 * r + c] !== expected[4 * r + c]) {
        return `row ${r}: [${Array.from(actual.subarray(4 * r, 4 * r + 4))}] vs scipy [${Array.from({ length: 4 }, (_, i) => expected[4 * r + i])}]`
      }
    }
    const a = actual[4 * r + 2]
    const e = expected[4 * r + 2]
    if (Math.abs(a - e) > 1e-12 * Math.max(1, Math.abs(e))) return `row ${r}: height ${a} vs scipy ${e}`
  }
  return undefined
}

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
