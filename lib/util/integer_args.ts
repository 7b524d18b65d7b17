/**
 * Integer arguments typed by a person (command-line options): the whole text must be an integer in range. Number('')
 * is 0 and Number('1e3') is 1000, so `--steps ""` would train 0 steps and `--seeds 0,,1` train seed 0 twice; here an
 * empty, fractional, signed-where-not-allowed or out-of-range value is a RangeError naming the option and the range.
 */
export interface IntegerRange {
  min?: number
  max?: number
}

const INTEGER = /^[+-]?\d+$/

function rangeText({ min, max }: IntegerRange): string {
  if (min !== undefined && max !== undefined) return `an integer in [${min}, ${max}]`
  if (min !== undefined) return `an integer >= ${min}`
  if (max !== undefined) return `an integer <= ${max}`
  return 'an integer'
}

/** `raw` as an integer within `range`; `name` (e.g. "--steps") is named in the error. */
export function parseIntegerArg(raw: string, name: string, range: IntegerRange = {}): number {
  const text = String(raw).trim()
  const n = INTEGER.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || (range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    throw new RangeError(`${name} must be ${rangeText(range)}, got ${JSON.stringify(String(raw))}`)
  }
  return n
}

/** A comma-separated list of distinct integers within `range` (no empty items, no repeats). */
export function parseIntegerListArg(raw: string, name: string, range: IntegerRange = {}): number[] {
  const items = String(raw).split(',')
  const out = items.map((item, i) => {
    try {
      return parseIntegerArg(item, name, range)
    } catch {
      throw new RangeError(`${name} must be a comma-separated list of ${rangeText(range).replace(/^an integer/, 'integers')}; item ${i + 1} is ${JSON.stringify(item)} (in ${JSON.stringify(String(raw))})`)
    }
  })
  const seen = new Set<number>()
  for (const n of out) {
    if (seen.has(n)) throw new RangeError(`${name} repeats ${n} (in ${JSON.stringify(String(raw))}): each value once`)
    seen.add(n)
  }
  return out
}
