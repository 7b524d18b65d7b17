// Reading a linkage matrix: validation, and the per-node facts (children, size, height) every consumer needs.

/** Child ids of node n+k are Z[4k] and Z[4k+1]; an id < n is a point. */
export interface Tree {
  n: number
  left: Int32Array
  right: Int32Array
  height: Float64Array
  size: Int32Array
}

/**
 * Checks that `Z` is a linkage matrix of `n` points in scipy's format (each row merges two earlier, distinct, not yet
 * merged nodes, at a finite height, with the right size) and returns its columns. Throws TypeError/RangeError naming
 * the argument.
 */
export function readTree(Z: Float64Array, n: number, name = 'linkage'): Tree {
  if (!(Z instanceof Float64Array)) throw new TypeError(`${name} must be a Float64Array, got ${describe(Z)}`)
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer >= 2, got ${String(n)}`)
  if (Z.length !== (n - 1) * 4) {
    throw new RangeError(`${name} has length ${Z.length}, expected (n-1)*4 = ${(n - 1) * 4} for n = ${n}`)
  }
  const rows = n - 1
  const left = new Int32Array(rows)
  const right = new Int32Array(rows)
  const height = new Float64Array(rows)
  const size = new Int32Array(rows)
  const used = new Uint8Array(2 * n - 1)
  for (let k = 0; k < rows; k++) {
    const a = Z[4 * k]
    const b = Z[4 * k + 1]
    for (const c of [a, b]) {
      if (!Number.isInteger(c) || c < 0 || c >= n + k) {
        throw new RangeError(`${name} row ${k} refers to node ${c}, expected an integer in [0, ${n + k})`)
      }
      if (used[c]) throw new RangeError(`${name} row ${k} merges node ${c}, which an earlier row already merged`)
      used[c] = 1
    }
    if (a === b) throw new RangeError(`${name} row ${k} merges node ${a} with itself`)
    const h = Z[4 * k + 2]
    if (!Number.isFinite(h) || h < 0) throw new RangeError(`${name} row ${k} has height ${h}, expected a finite number >= 0`)
    const s = (a < n ? 1 : size[a - n]) + (b < n ? 1 : size[b - n])
    if (Z[4 * k + 3] !== s) throw new RangeError(`${name} row ${k} has size ${Z[4 * k + 3]}, expected ${s}`)
    left[k] = a
    right[k] = b
    height[k] = h
    size[k] = s
  }
  return { n, left, right, height, size }
}

export function describe(v: unknown): string {
  if (v === null) return 'null'
  if (ArrayBuffer.isView(v)) return v.constructor.name
  if (Array.isArray(v)) return 'Array'
  return typeof v
}

/** For each node n+k, the largest height in its subtree (scipy's get_max_dist_for_each_cluster). */
export function maxHeights(t: Tree): Float64Array {
  const out = new Float64Array(t.n - 1)
  for (let k = 0; k < t.n - 1; k++) {
    let m = t.height[k]
    const a = t.left[k]
    const b = t.right[k]
    if (a >= t.n && out[a - t.n] > m) m = out[a - t.n]
    if (b >= t.n && out[b - t.n] > m) m = out[b - t.n]
    out[k] = m
  }
  return out
}
