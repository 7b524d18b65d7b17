// Kernel benchmark: the fused native policy loss (forward + backward) and group advantages against the same math as
// libtorch ops (what a PyTorch user runs today) and the plain TypeScript reference; a markdown table, JSON and a chart.
import { join } from 'node:path'
import { Bench } from 'tinybench'
import { info as runtimeInfo, type RuntimeInfo } from '../native/info.js'
import { writeFileAtomic } from '../util/atomic.js'
import { writeChart } from '../report/charts.js'
import { groupAdvantages, groupAdvantagesTorch } from '../ops/rl/advantages.js'
import { policyLoss, policyLossTorch } from '../ops/rl/policy_loss.js'
import * as reference from '../ops/rl/reference.js'
import { syntheticBatch } from '../ops/rl/synthetic.js'

export interface KernelBenchRow {
  kernel: string
  shape: string
  nativeMs: number
  /** policyLoss writing into a reused gradient buffer (output.out). */
  nativeReuseMs?: number
  torchOpsMs: number
  referenceMs: number
  speedupVsTorch: number
  speedupVsReference: number
  /** Bytes the fused kernel must move over its time (policy loss only). */
  gbPerS?: number
}

export interface KernelBenchResult {
  date: string
  info: RuntimeInfo
  /** Read + write bandwidth of a large Float32Array copy on this machine. */
  copyBandwidthGBs: number
  rows: KernelBenchRow[]
}

async function median(fn: () => unknown, time: number): Promise<number> {
  const bench = new Bench({ time, warmupTime: Math.min(200, time / 2), warmupIterations: 3, iterations: 5 })
  bench.add('x', fn)
  await bench.run()
  const r = bench.tasks[0].result as { latency?: { p50: number } }
  if (!r.latency) throw new Error('benchmark task failed')
  return r.latency.p50
}

// Copy bandwidth of this machine (read + write), over a buffer far larger than the caches.
async function copyBandwidth(): Promise<number> {
  const n = 64 << 20
  const src = new Float32Array(n).fill(1)
  const dst = new Float32Array(n)
  const ms = await median(() => dst.set(src), 1500)
  return (2 * n * 4) / (ms / 1000) / 1e9
}

export async function benchKernels({ quick = false, log = (_: string) => {} } = {}): Promise<KernelBenchResult> {
  const shapes: [number, number][] = quick ? [[16, 512], [256, 2048]] : [[16, 512], [64, 1024], [256, 2048], [512, 4096]]
  const info = runtimeInfo()
  const bandwidth = await copyBandwidth()
  log(`hiexp ${info.version}, libtorch ${info.torchVersion}, ${info.threads} threads; copy bandwidth ${bandwidth.toFixed(1)} GB/s`)
  const rows: KernelBenchRow[] = []
  for (const algorithm of ['grpo', 'gspo'] as const) {
    for (const [B, T] of shapes) {
      const { refLogp: _ref, ...batch } = syntheticBatch(1, { B, T, spread: 0.2 })
      const options = { algorithm, clipLow: 0.2, clipHigh: 0.28 }
      const time = B * T >= 1 << 20 ? 3000 : 1000
      const nativeMs = await median(() => policyLoss(batch, options), time)
      const out = new Float32Array(B * T)
      const nativeReuseMs = await median(() => policyLoss(batch, options, { out }), time)
      const torchOpsMs = await median(() => policyLossTorch(batch, options), time)
      const referenceMs = await median(() => reference.policyLoss(batch, options), time)
      // logp, oldLogp, the mask twice (two passes), the gradient written; GSPO reads logp and oldLogp once more
      const bytes = B * T * (4 + 4 + 2 * batch.mask.BYTES_PER_ELEMENT + 4) + (algorithm === 'gspo' ? B * T * 8 : 0)
      rows.push({
        kernel: `policyLoss ${algorithm}`, shape: `${B}x${T}`, nativeMs, nativeReuseMs, torchOpsMs, referenceMs,
        speedupVsTorch: torchOpsMs / nativeMs, speedupVsReference: referenceMs / nativeMs, gbPerS: bytes / (nativeReuseMs / 1000) / 1e9,
      })
      log(`policyLoss ${algorithm} ${B}x${T}: native ${nativeMs.toFixed(3)} ms, libtorch ops ${torchOpsMs.toFixed(3)} ms`)
    }
  }
  for (const B of quick ? [64, 4096] : [64, 512, 4096, 65536]) {
    const rewards = Float32Array.from({ length: B }, (_, i) => ((i * 7919) % 13) / 13)
    const groupIds = Int32Array.from({ length: B }, (_, i) => Math.floor(i / 8))
    const nativeMs = await median(() => groupAdvantages(rewards, { groupIds }), 500)
    const torchOpsMs = await median(() => groupAdvantagesTorch(rewards, { groupIds }), 500)
    const referenceMs = await median(() => reference.groupAdvantages(rewards, groupIds), 500)
    rows.push({ kernel: 'groupAdvantages grpo', shape: `B=${B}, G=8`, nativeMs, torchOpsMs, referenceMs, speedupVsTorch: torchOpsMs / nativeMs, speedupVsReference: referenceMs / nativeMs })
  }
  return { date: new Date().toISOString(), info, copyBandwidthGBs: bandwidth, rows }
}

export function kernelTable(result: KernelBenchResult): string {
  const fmt = (x: number, digits = 3) => x.toFixed(digits)
  const lines = [
    `CPU, ${result.info.threads} threads, libtorch ${result.info.torchVersion}; copy bandwidth ${fmt(result.copyBandwidthGBs, 1)} GB/s; medians of tinybench samples`,
    '',
    '| kernel | shape | native ms | native, reused output ms | libtorch ops ms | TS reference ms | native vs libtorch | native vs TS | reused-output GB/s (share of copy bandwidth) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of result.rows) {
    const bw = r.gbPerS === undefined ? '' : `${fmt(r.gbPerS, 1)} (${Math.round((100 * r.gbPerS) / result.copyBandwidthGBs)}%)`
    lines.push(`| ${r.kernel} | ${r.shape} | ${fmt(r.nativeMs)} | ${r.nativeReuseMs === undefined ? '' : fmt(r.nativeReuseMs)} | ${fmt(r.torchOpsMs)} | ${fmt(r.referenceMs)} | ${fmt(r.speedupVsTorch, 1)}x | ${fmt(r.speedupVsReference, 1)}x | ${bw} |`)
  }
  return lines.join('\n')
}

/** Writes kernels.json, kernels.md and the chart kernels.svg / kernels.png into outDir. */
export async function writeKernelReport(result: KernelBenchResult, outDir: string): Promise<string[]> {
  writeFileAtomic(join(outDir, 'kernels.json'), JSON.stringify(result, null, 2))
  writeFileAtomic(join(outDir, 'kernels.md'), kernelTable(result) + '\n')
  const values = result.rows.flatMap((r) => [
    { kernel: r.kernel, shape: r.shape, implementation: 'hiexp native', ms: r.nativeMs },
    { kernel: r.kernel, shape: r.shape, implementation: 'libtorch ops + autograd', ms: r.torchOpsMs },
    { kernel: r.kernel, shape: r.shape, implementation: 'TypeScript reference', ms: r.referenceMs },
  ])
  const chart = await writeChart(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: `hiexp kernels on CPU (${result.info.threads} threads): median time per call, log scale`,
      data: { values },
      facet: { column: { field: 'kernel', type: 'nominal', title: null } },
      spec: {
        width: 220,
        height: 220,
        // Lines, not bars: a bar has no base on a log scale.
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'shape', type: 'ordinal', sort: null, title: null },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms per call' },
          color: { field: 'implementation', type: 'nominal', legend: { labelLimit: 400 } },
        },
      },
      resolve: { scale: { x: 'independent' } },
    },
    join(outDir, 'kernels'),
  )
  return [join(outDir, 'kernels.json'), join(outDir, 'kernels.md'), chart.svg, chart.png]
}
