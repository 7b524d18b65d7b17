import { native } from './loader.js'

export interface RuntimeInfo {
  /** hiexp version the addon was built as. */
  version: string
  /** libtorch version the addon links. */
  torchVersion: string
  /** Whether the CUDA kernels were compiled in and linked. */
  cudaCompiled: boolean
  /** Devices the addon can use: 'cpu', then 'cuda:0', … */
  devices: string[]
  /** libtorch intra-op threads used by the native kernels. */
  threads: number
}

/** What the native addon was built with and what it sees. */
export function info(): RuntimeInfo {
  return native().info() as RuntimeInfo
}

/** Sets libtorch's intra-op thread count (default: the number of cores, or HIEXP_THREADS). */
export function setThreads(threads: number): void {
  native().setThreads(threads)
}
