// Flat clusters from a linkage matrix: scipy's fcluster ('distance' and 'maxclust' criteria, same numbering), and the
// nested multi-level cut the hierarchical experience (HEK) is built from.
import { maxHeights, readTree, type Tree } from './tree.js'

export type CutOptions = { distance: number; clusters?: undefined } | { clusters: number; distance?: undefined }

/**
 * Flat clusters like scipy's `fcluster(Z, t, criterion)`: `{ distance: t }` is criterion 'distance' (no cluster has
 * a cophenetic height above t), `{ clusters: k }` is criterion 'maxclust' (the lowest such cut with at most k
 * clusters). Returns one cluster number per point, 1-based, numbered as scipy numbers them.
 */
export function cutTree(Z: Float64Array, n: number, options: CutOptions): Int32Array {
  const tree = readTree(Z, n)
  if (typeof options !== 'object' || options === null) throw new TypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`)
  const hasDistance = options.distance !== undefined
  const hasClusters = options.clusters !== undefined
  if (hasDistance === hasClusters) {
    throw new TypeError('options must have exactly one of options.distance (a height) or options.clusters (a count)')
  }
  const mc = maxHeights(tree)
  if (hasDistance) {
    const t = options.distance
    if (typeof t !== 'number' || Number.isNaN(t)) throw new TypeError(`options.distance must be a number, got ${String(t)}`)
    return monocrit(tree, mc, t)
  }
  const k = options.clusters
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new RangeError(`options.clusters must be an integer >= 1, got ${String(k)}`)
  }
  return maxclust(tree, mc, k)
}

/** scipy's cluster_monocrit: depth-first from the root, left child first; a cluster is numbered when entered. */
function monocrit(t: Tree, mc: Float64Array, cutoff: number): Int32Array {
  const n = t.n
  const T = new Int32Array(n)
  const visited = new Uint8Array(2 * n - 1)
  const stack = new Int32Array(n)
  let k = 0
  stack[0] = 2 * n - 2
  let nCluster = 0
  let leader = -1
  while (k >= 0) {
    const root = stack[k] - n
    const lc = t.left[root]
    const rc = t.right[root]
    if (leader === -1 && mc[root] <= cutoff) {
      leader = root
      nCluster++
    }
    if (lc >= n && !visited[lc]) {
      visited[lc] = 1
      stack[++k] = lc
      continue
    }
    if (rc >= n && !visited[rc]) {
      visited[rc] = 1
      stack[++k] = rc
      continue
    }
    if (lc < n) {
      if (leader === -1) nCluster++
      T[lc] = nCluster
    }
    if (rc < n) {
      if (leader === -1) nCluster++
      T[rc] = nCluster
    }
    if (leader === root) leader = -1
    k--
  }
  return T
}

/** scipy's cluster_maxclust_monocrit: binary search over the nodes' heights for the lowest cut with <= maxNc clusters. */
function maxclust(t: Tree, mc: Float64Array, maxNc: number): Int32Array {
  const n = t.n
  if (maxNc >= n) return Int32Array.from({ length: n }, (_, i) => i + 1)
  const visited = new Uint8Array(2 * n - 1)
  const stack = new Int32Array(n)
  let lower = -1
  let upper = n - 1
  while (upper - lower > 1) {
    const i = (lower + upper) >> 1
    const thresh = mc[i]
    visited.fill(0)
    let nc = 0
    let k = 0
    stack[0] = 2 * n - 2
    while (k >= 0) {
      const root = stack[k] - n
      const lc = t.left[root]
      const rc = t.right[root]
      if (mc[root] <= thresh) {
        nc++
        if (nc > maxNc) break
        k--
        visited[lc] = 1
        visited[rc] = 1
        continue
      }
      if (!visited[lc]) {
        visited[lc] = 1
        if (lc >= n) {
          stack[++k] = lc
          continue
        }
        nc++
        if (nc > maxNc) break
      }
      if (!visited[rc]) {
        visited[rc] = 1
        if (rc >= n) {
          stack[++k] = rc
          continue
        }
        nc++
        if (nc > maxNc) break
      }
      k--
    }
    if (nc > maxNc) lower = i
    else upper = i
  }
  return monocrit(t, mc, mc[upper])
}

/** One level of a multi-level cut. Cluster ids are 0-based: fcluster's numbers minus one. */
export interface Level {
  /** The height of this cut (scipy's 'distance' criterion). */
  threshold: number
  /** Number of clusters at this level. */
  clusters: number
  /** Cluster id of every point, in [0, clusters). */
  assignment: Int32Array
  /** Number of points of each cluster. */
  sizes: Int32Array
  /** For each cluster, the id of the cluster that contains it in the next (coarser) level; null for the last level. */
  parent: Int32Array | null
}

/**
 * Nested cuts at several heights, finest first: `thresholds` are sorted ascending (duplicates removed), each level is
 * `cutTree(Z, n, { distance })` with 0-based ids, and `parent` links each cluster to the coarser level above it.
 * Cuts of one tree by 'distance' are always nested, so every cluster has exactly one parent.
 */
export function levels(Z: Float64Array, n: number, thresholds: readonly number[] | Float64Array): Level[] {
  const tree = readTree(Z, n)
  if (!Array.isArray(thresholds) && !(thresholds instanceof Float64Array)) {
    throw new TypeError(`thresholds must be an array of numbers, got ${typeof thresholds}`)
  }
  if (thresholds.length === 0) throw new RangeError('thresholds must hold at least one number')
  for (let i = 0; i < thresholds.length; i++) {
    const t = thresholds[i]
    if (typeof t !== 'number' || Number.isNaN(t)) throw new TypeError(`thresholds[${i}] must be a number, got ${String(t)}`)
  }
  const sorted = [...new Set(Array.from(thresholds))].sort((a, b) => a - b)
  const mc = maxHeights(tree)
  const out: Level[] = sorted.map((threshold) => {
    const T = monocrit(tree, mc, threshold)
    let clusters = 0
    for (let i = 0; i < n; i++) if (T[i] > clusters) clusters = T[i]
    const assignment = new Int32Array(n)
    const sizes = new Int32Array(clusters)
    for (let i = 0; i < n; i++) {
      assignment[i] = T[i] - 1
      sizes[T[i] - 1]++
    }
    return { threshold, clusters, assignment, sizes, parent: null }
  })
  for (let l = 0; l + 1 < out.length; l++) {
    const fine = out[l]
    const coarse = out[l + 1]
    const parent = new Int32Array(fine.clusters).fill(-1)
    for (let i = 0; i < n; i++) {
      const c = fine.assignment[i]
      const p = coarse.assignment[i]
      if (parent[c] === -1) parent[c] = p
      else if (parent[c] !== p) throw new Error(`hiexp: levels ${l} and ${l + 1} are not nested (internal error)`)
    }
    fine.parent = parent
  }
  return out
}
