/**
 * The second task family: multi-step arithmetic word problems with a whole-number answer ("Alda has 7 apples. Alda
 * buys 5 more apples. Alda gives 3 apples to Brin. How many apples does Alda have now?" → "9"). Used for cross-task
 * tests of experience (the answer needs no retrieval). Numbers stay in [0, maxValue] so the vocabulary stays small.
 */
import { z } from 'zod'
import { FIRST_NAMES, ITEMS } from './names.js'
import { Random } from '../util/random.js'
import { stratifiedSplits } from './splits.js'
import type { QaExample, Splits } from './types.js'

export const ArithmeticOptionsSchema = z
  .object({
    seed: z.number().int().default(0),
    /** Operations per problem (after the starting amount). */
    steps: z.array(z.number().int().min(1).max(6)).min(1).default([1, 2, 3, 4]),
    problemsPerStep: z.number().int().min(1).default(200),
    maxValue: z.number().int().min(10).max(10000).default(60),
    validationFraction: z.number().min(0).max(0.5).default(0.1),
    testFraction: z.number().min(0).max(0.5).default(0.1),
  })
  .strict()

export type ArithmeticOptions = z.input<typeof ArithmeticOptionsSchema>

/** Generates arithmetic word problems, deterministic per seed; questions are unique across the splits. */
export function generateArithmetic(options: ArithmeticOptions = {}): Splits<QaExample> {
  const parsed = ArithmeticOptionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`generateArithmetic: option ${issue.path.join('.')}: ${issue.message}`)
  }
  const o = parsed.data
  const rng = new Random(o.seed).fork('arithmetic')
  const strata: QaExample[][] = []
  const seen = new Set<string>()
  for (const steps of [...new Set(o.steps)].sort()) {
    const problems: QaExample[] = []
    for (let attempt = 0; problems.length < o.problemsPerStep && attempt < o.problemsPerStep * 20; attempt++) {
      const who = rng.pick(FIRST_NAMES)
      let other = rng.pick(FIRST_NAMES)
      while (other === who) other = rng.pick(FIRST_NAMES)
      const item = rng.pick(ITEMS)
      let value = rng.int(1, Math.min(20, o.maxValue))
      const sentences = [`${who} has ${value} ${item}.`]
      for (let s = 0; s < steps; s++) {
        const ops: Array<() => string> = []
        if (value < o.maxValue) {
          ops.push(() => {
            const k = rng.int(1, Math.min(20, o.maxValue - value))
            value += k
            return rng.chance(0.5) ? `${who} buys ${k} more ${item}.` : `${who} finds ${k} more ${item}.`
          })
        }
        if (value > 0) {
          ops.push(() => {
            const k = rng.int(1, Math.min(20, value))
            value -= k
            return `${who} gives ${k} ${item} to ${other}.`
          })
        }
        if (value > 0 && value * 2 <= o.maxValue) {
          ops.push(() => {
            const k = value * 3 <= o.maxValue ? rng.int(2, 3) : 2
            value *= k
            return `${who} ends up with ${k === 2 ? 'twice' : 'three times'} as many ${item}.`
          })
        }
        sentences.push(rng.pick(ops)())
      }
      const question = `${sentences.join(' ')} How many ${item} does ${who} have now?`
      if (seen.has(question)) continue
      seen.add(question)
      problems.push({
        id: `arith-${o.seed}-${steps}s-${problems.length}`,
        question,
        goldAnswers: [String(value)],
        dataSource: 'hiexp-arithmetic',
        taskType: 'arithmetic',
        hops: steps,
      })
    }
    strata.push(problems)
  }
  return stratifiedSplits(strata, o.validationFraction, o.testFraction, rng)
}
