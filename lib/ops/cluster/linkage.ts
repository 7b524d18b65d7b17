// linkage(): scipy.cluster.hierarchy.linkage on the native core. The work runs on the libuv pool; the event loop
// stays free, and progress can be followed through options.onProgress.
import { native } from '../../native/loader.js'

export type LinkageMethod = 'single' | 'complete' | 'average' | 'weighted' | 'ward' | 'centroid' | 'median'
export type LinkageMetric = 'euclidean' | 'cosine' | 'precomputed'

export interface LinkageOptions {
  method: LinkageMethod
  /** 'euclidean' (default) or 'cosine' on raw points; 'precomputed': `points` is scipy's condensed distance vector. */
  metric?: LinkageMetric
  /**
   * Which code computes the distances, both bit-identical to scipy's pdist: 'builtin' (default; hiexp's register-tiled
   * kernel) or 'torch' (libtorch's elementwise kernels on the same formula: much slower, an independent cross-check).
   */
  gram?: 'builtin' | 'torch'
  /** Called on the main thread with the fraction done of the current phase ('distances', then 'linkage'). */
  onProgress?: (fraction: number, phase: 'distances' | 'linkage') => void
}

/**
 * Agglomerative clustering of `n` points of dimension `d` (row-major), exactly as scipy's
 * `linkage(points, method, metric)`: returns the (n-1) x 4 row-major linkage matrix Z (row k merges clusters Z[k,0]
 * and Z[k,1] at height Z[k,2] into cluster n+k of Z[k,3] points), in scipy's merge order and tie-breaking.
 * With metric 'precomputed', `points` is the condensed distance vector of length n(n-1)/2 and `d` is ignored.
 * Bad input rejects with a TypeError or RangeError naming the argument.
 */
export async function linkage(
  points: Float32Array | Float64Array,
  n: number,
  d: number,
  options: LinkageOptions,
): Promise<Float64Array> {
  return native().clusterLinkage(points, n, d, options)
}

/** scipy's `pdist(points, metric)`: the condensed distance vector (n(n-1)/2 entries, row-major upper triangle). */
export async function pdist(
  points: Float32Array | Float64Array,
  n: number,
  d: number,
  options: { metric?: 'euclidean' | 'cosine'; gram?: 'builtin' | 'torch' } = {},
): Promise<Float64Array> {
  return native().clusterPdist(points, n, d, options)
}
