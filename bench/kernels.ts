// Kernel benchmark: the fused native policy loss (forward + backward) and group advantages against the same math as
// libtorch ops (what a PyTorch user runs today) and the plain TypeScript reference. Prints a markdown table, writes
// bench/results/kernels.json and a chart (kernels.svg / kernels.png).
//   npx tsx bench/kernels.ts [--quick] [--out bench/results]
import { Bench } from 'tinybench'
import { join } from 'node:path'
import * as hx from '../lib/index.js'
import { randomBatch } from '../test/helpers/batches.js'

const quick = process.argv.includes('--quick')
const outIndex = process.argv.indexOf('--out')
const outDir = outIndex > 0 ? process.argv[outIndex + 1] : join(import.meta.dirname, 'results')
const shapes: [number, number][] = quick ? [[16, 512], [256, 2048]] : [[16, 512], [64, 1024], [256, 2048], [512, 4096]]

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

interface Row {
  kernel: string
  shape: string
  nativeMs: number
  torchOpsMs: number
  referenceMs: number
  speedupVsTorch: number
  speedupVsReference: number
  gbPerS?: number
}

const rows: Row[] = []
const info = hx.info()
console.error(`hiexp ${info.version}, libtorch ${info.torchVersion}, ${info.threads} threads, devices ${info.devices.join(', ')}`)
const bandwidth = await copyBandwidth()
console.error(`copy bandwidth: ${bandwidth.toFixed(1)} GB/s`)

for (const algorithm of ['grpo', 'gspo'] as const) {
  for (const [B, T] of shapes) {
    const { refLogp: _ref, ...batch } = randomBatch(1, { B, T, spread: 0.2 })
    const options = { algorithm, clipLow: 0.2, clipHigh: 0.28 }
    const time = B * T >= 1 << 20 ? 3000 : 1000
    const nativeMs = await median(() => hx.policyLoss(batch, options), time)
    const torchOpsMs = await median(() => hx.policyLossTorch(batch, options), time)
    const referenceMs = await median(() => hx.reference.policyLoss(batch, options), time)
    // bytes the fused kernel must move: logp, oldLogp, mask twice (two passes), the gradient written; per-row data aside
    const bytes = B * T * (4 + 4 + 2 * batch.mask.BYTES_PER_ELEMENT + 4) + (algorithm === 'gspo' ? B * T * 8 : 0)
    rows.push({
      kernel: `policyLoss ${algorithm}`, shape: `${B}x${T}`, nativeMs, torchOpsMs, referenceMs,
      speedupVsTorch: torchOpsMs / nativeMs, speedupVsReference: referenceMs / nativeMs, gbPerS: bytes / (nativeMs / 1000) / 1e9,
    })
    console.error(`policyLoss ${algorithm} ${B}x${T}: native ${nativeMs.toFixed(3)} ms, torch ops ${torchOpsMs.toFixed(3)} ms`)
  }
}

for (const B of quick ? [64, 4096] : [64, 512, 4096, 65536]) {
  const rewards = Float32Array.from({ length: B }, (_, i) => ((i * 7919) % 13) / 13)
  const groupIds = Int32Array.from({ length: B }, (_, i) => Math.floor(i / 8))
  const nativeMs = await median(() => hx.groupAdvantages(rewards, { groupIds }), 500)
  const torchOpsMs = await median(() => hx.groupAdvantagesTorch(rewards, { groupIds }), 500)
  const referenceMs = await median(() => hx.reference.groupAdvantages(rewards, groupIds), 500)
  rows.push({ kernel: 'groupAdvantages grpo', shape: `B=${B}, G=8`, nativeMs, torchOpsMs, referenceMs, speedupVsTorch: torchOpsMs / nativeMs, speedupVsReference: referenceMs / nativeMs })
}

const fmt = (x: number | undefined, digits = 3) => (x === undefined ? '' : x.toFixed(digits))
console.log(`\nCPU: ${info.threads} threads, libtorch ${info.torchVersion}; copy bandwidth ${bandwidth.toFixed(1)} GB/s; median of tinybench samples\n`)
console.log('| kernel | shape | native ms | libtorch ops ms | TS reference ms | native vs libtorch | native vs TS | native GB/s (share of copy bandwidth) |')
console.log('|---|---|---:|---:|---:|---:|---:|---:|')
for (const r of rows) {
  const bw = r.gbPerS === undefined ? '' : `${fmt(r.gbPerS, 1)} (${Math.round((100 * r.gbPerS) / bandwidth)}%)`
  console.log(`| ${r.kernel} | ${r.shape} | ${fmt(r.nativeMs)} | ${fmt(r.torchOpsMs)} | ${fmt(r.referenceMs)} | ${fmt(r.speedupVsTorch, 1)}x | ${fmt(r.speedupVsReference, 1)}x | ${bw} |`)
}

hx.writeFileAtomic(join(outDir, 'kernels.json'), JSON.stringify({ date: new Date().toISOString(), info, copyBandwidthGBs: bandwidth, rows }, null, 2))
const long = rows.flatMap((r) => [
  { kernel: r.kernel, shape: r.shape, implementation: 'hiexp native', ms: r.nativeMs },
  { kernel: r.kernel, shape: r.shape, implementation: 'libtorch ops + autograd', ms: r.torchOpsMs },
  { kernel: r.kernel, shape: r.shape, implementation: 'TypeScript reference', ms: r.referenceMs },
])
const chart = await hx.writeChart(
  {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `hiexp kernels on CPU (${info.threads} threads): median time per call, log scale`,
    data: { values: long },
    facet: { column: { field: 'kernel', type: 'nominal', title: null } },
    spec: {
      width: 220,
      height: 220,
      mark: 'bar',
      encoding: {
        x: { field: 'shape', type: 'nominal', sort: null, title: null },
        xOffset: { field: 'implementation' },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms per call' },
        color: { field: 'implementation', type: 'nominal' },
      },
    },
    resolve: { scale: { x: 'independent' } },
  },
  join(outDir, 'kernels'),
)
console.error(`wrote ${join(outDir, 'kernels.json')}, ${chart.svg}, ${chart.png}`)
