/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) so that every generated world, question set and split is a pure
 * function of its seed: Math.random is never used by the generators.
 */
export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new TypeError(`seed must be a finite number, got ${seed}`)
    let s = Math.trunc(seed) >>> 0
    const next = (): number => {
      // splitmix32: spreads nearby seeds (0, 1, 2, …) into unrelated states.
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    for (let i = 0; i < 12; i++) this.uint32()
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296
  }

  /** Uniform integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`int: hi (${hi}) must be >= lo (${lo})`)
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.float() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick: items must not be empty')
    return items[Math.floor(this.float() * items.length)]
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice()
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1))
      ;[out[i], out[j]] = [out[j], out[i]]
    }
    return out
  }

  /** A derived generator, so that one part of a world can change without shifting the random stream of another. */
  fork(label: string): Random {
    let h = this.uint32()
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619) >>> 0
    return new Random(h)
  }
}

/** A seeded uniform [0, 1) generator as a plain function (test data, benchmarks, randomized algorithms). */
export function uniform(seed: number): () => number {
  const r = new Random(seed)
  return () => r.float()
}
