// GPU kernel benchmark: hiexp's fused CUDA policy loss (forward + backward through its libtorch autograd function)
// against the same loss composed of libtorch ops and differentiated by autograd on the same device, with the CPU
// kernel beside them. Every result is first checked against the CPU kernel; a mismatch exits 1.
//   npx tsx bench/gpu_kernels.ts [--device cuda:0] [--shapes 64x1024,256x2048,512x4096] [--time-ms 1000] [--out file.json]
// Both device columns include copying the batch to the device and the gradient back: what a caller holding host
// arrays pays. --device cpu runs the same code on the CPU (a smoke run where no GPU exists).
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import { info, policyLoss, policyLossTorch, syntheticBatch, type PolicyLossOptions, type PolicyLossResult } from '../lib/index.js'

/** Agreement with the CPU kernel: |x - cpu| <= atol + rtol |cpu|, on the loss and on every gradient entry. */
export const TOLERANCE = { fused: { rtol: 1e-5, atol: 1e-7 }, ops: { rtol: 1e-4, atol: 1e-6 } }

export interface GpuKernelRow {
  algorithm: 'grpo' | 'gspo'
  shape: string
  fusedMs: number
  torchOpsMs: number
  cpuMs: number
  /** torchOpsMs / fusedMs. */
  speedupVsTorchOps: number
  fusedMaxGradDiff: number
  opsMaxGradDiff: number
  agrees: boolean
}

export interface GpuKernelResult {
  device: string
  torch: string
  date: string
  tolerance: typeof TOLERANCE
  rows: GpuKernelRow[]
  pass: boolean
  problems: string[]
}

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda:0' },
    shapes: { type: 'string', default: '64x1024,256x2048,512x4096' },
    'time-ms': { type: 'string', default: '1000' },
    out: { type: 'string' },
  },
})

function parseShapes(text: string): [number, number][] {
  return text.split(',').map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s.trim())
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new RangeError(`--shapes: '${s}' is not BxT (for example 64x1024)`)
    return [Number(m[1]), Number(m[2])]
  })
}

async function medianMs(fn: () => unknown, time: number): Promise<number> {
  const bench = new Bench({ time, warmupTime: Math.min(200, time / 2), warmupIterations: 3, iterations: 5 })
  bench.add('x', fn)
  await bench.run()
  const r = bench.tasks[0].result as { latency?: { p50: number }; error?: unknown }
  if (!r.latency) throw new Error(`benchmark task failed: ${String(r.error)}`)
  return r.latency.p50
}

/** Largest |x - ref| over the gradient, and whether loss and gradient are within tolerance. */
function agreement(x: PolicyLossResult, ref: PolicyLossResult, tol: { rtol: number; atol: number }) {
  let maxDiff = 0
  let ok = Math.abs(x.loss - ref.loss) <= tol.atol + tol.rtol * Math.abs(ref.loss) && x.gradLogp.length === ref.gradLogp.length
  for (let i = 0; i < ref.gradLogp.length; i++) {
    const d = Math.abs(x.gradLogp[i] - ref.gradLogp[i])
    maxDiff = Math.max(maxDiff, d)
    if (!(d <= tol.atol + tol.rtol * Math.abs(ref.gradLogp[i]))) ok = false
  }
  return { maxDiff, ok }
}

const device = values.device
const shapes = parseShapes(values.shapes)
const time = Number(values['time-ms'])
if (!Number.isFinite(time) || time <= 0) throw new RangeError(`--time-ms must be a positive number, got '${values['time-ms']}'`)

const rows: GpuKernelRow[] = []
const problems: string[] = []
for (const algorithm of ['grpo', 'gspo'] as const) {
  for (const [B, T] of shapes) {
    const { refLogp: _ref, ...batch } = syntheticBatch(11, { B, T, spread: 0.2 })
    const options: PolicyLossOptions = { algorithm, clipLow: 0.2, clipHigh: 0.28 }
    const cpu = policyLoss(batch, options)
    const fused = agreement(policyLossTorch(batch, options, { fused: true, device }), cpu, TOLERANCE.fused)
    const ops = agreement(policyLossTorch(batch, options, { device }), cpu, TOLERANCE.ops)
    if (!fused.ok) problems.push(`${algorithm} ${B}x${T}: the fused kernel on ${device} differs from the CPU kernel (max |grad diff| ${fused.maxDiff.toExponential(2)})`)
    if (!ops.ok) problems.push(`${algorithm} ${B}x${T}: the libtorch-ops loss on ${device} differs from the CPU kernel (max |grad diff| ${ops.maxDiff.toExponential(2)})`)
    const fusedMs = await medianMs(() => policyLossTorch(batch, options, { fused: true, device }), time)
    const torchOpsMs = await medianMs(() => policyLossTorch(batch, options, { device }), time)
    const cpuMs = await medianMs(() => policyLoss(batch, options), time)
    rows.push({
      algorithm, shape: `${B}x${T}`, fusedMs, torchOpsMs, cpuMs, speedupVsTorchOps: torchOpsMs / fusedMs,
      fusedMaxGradDiff: fused.maxDiff, opsMaxGradDiff: ops.maxDiff, agrees: fused.ok && ops.ok,
    })
    console.error(`${algorithm} ${B}x${T} on ${device}: fused ${fusedMs.toFixed(3)} ms, libtorch ops ${torchOpsMs.toFixed(3)} ms, CPU kernel ${cpuMs.toFixed(3)} ms`)
  }
}

const result: GpuKernelResult = { device, torch: info().torchVersion, date: new Date().toISOString(), tolerance: TOLERANCE, rows, pass: problems.length === 0, problems }
console.table(rows.map((r) => ({ ...r, fusedMs: +r.fusedMs.toFixed(4), torchOpsMs: +r.torchOpsMs.toFixed(4), cpuMs: +r.cpuMs.toFixed(4), speedupVsTorchOps: +r.speedupVsTorchOps.toFixed(2) })))
for (const p of problems) console.error(`MISMATCH ${p}`)
if (values.out) writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n')
process.exit(result.pass ? 0 : 1)
