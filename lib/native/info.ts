import type { RuntimeInfo } from './binding.js'
import { native } from './loader.js'

export type { RuntimeInfo }

/** What the native addon was built with and what it sees. */
export function info(): RuntimeInfo {
  return native().info()
}

/** Sets libtorch's intra-op thread count (default: the number of cores, or HIEXP_THREADS). */
export function setThreads(threads: number): void {
  native().setThreads(threads)
}
