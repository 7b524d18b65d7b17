// Benchmark of hiexp's linkage against scipy (subprocess, timing only linkage(X, method) inside it) and ml-hclust.
//   npx tsx bench/cluster.ts                       full grid: n = 500 … 20,000, d = 64 and 384 (about 15 minutes)
//   npx tsx bench/cluster.ts --sizes=500,2000 --dims=64 --methods=ward --gram=torch --ml-hclust-max=0 --out=cluster-small
// Prints a table of medians and ratios and writes bench/results/cluster.json.
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { agnes } from 'ml-hclust'

import { info } from '../lib/index.js'
import { linkage, type LinkageMethod } from '../lib/ops/cluster/index.js'

const here = dirname(fileURLToPath(import.meta.url))
const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const sizes = arg('sizes', '500,1000,2000,5000,10000,20000').split(',').map(Number)
const dims = arg('dims', '64,384').split(',').map(Number)
const methods = arg('methods', 'single,average,complete,ward').split(',') as LinkageMethod[]
const gram = arg('gram', 'builtin') as 'builtin' | 'torch'
// ml-hclust takes minutes per method at n = 2000 on a busy box; --ml-hclust-max=0 leaves it out (ratios to scipy only).
const ML_HCLUST_MAX_N = Number(arg('ml-hclust-max', '3000'))
const ML_NAME: Record<string, 'single' | 'average' | 'complete' | 'ward2' | 'wpgma'> = { single: 'single', average: 'average', complete: 'complete', ward: 'ward2', weighted: 'wpgma' }

const repeatsFor = (n: number) => (n <= 2000 ? 5 : n <= 5000 ? 3 : n <= 10000 ? 2 : 1)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

// Embedding-like data: 64 gaussian clusters of uneven spread (deterministic, mulberry32).
function points(n: number, d: number, seed: number): Float32Array {
  let a = seed >>> 0
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-300)) * Math.cos(2 * Math.PI * rnd())
  const k = 64
  const centres = Array.from({ length: k }, () => Float64Array.from({ length: d }, gauss))
  const spread = Array.from({ length: k }, () => 0.2 + rnd())
  const X = new Float32Array(n * d)
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rnd() * k)
    for (let j = 0; j < d; j++) X[i * d + j] = centres[c][j] + spread[c] * gauss()
  }
  return X
}

interface Row {
  n: number
  d: number
  method: string
  nativeMs: number
  scipyMs: number | null
  mlHclustMs: number | null
  nativeRuns: number[]
  scipyRuns: number[]
  mlHclustRuns: number[]
}

const rows: Row[] = []
const work = join(tmpdir(), `hiexp-bench-cluster-${process.pid}`)
mkdirSync(work, { recursive: true })
const python = spawnSync('python3', ['-c', 'import scipy'], { encoding: 'utf8' }).status === 0
if (!python) console.log('python3 with scipy not found: the scipy column is skipped')

// Warm-up: addon load, libtorch's thread pool, first allocations.
for (let i = 0; i < 20; i++) await linkage(points(500, 16, 1), 500, 16, { method: i % 2 ? 'average' : 'single', gram })

for (const d of dims) {
  for (const n of sizes) {
    const X = points(n, d, 1000 + n + d)
    const repeats = repeatsFor(n)
    let scipyTimes: Record<string, number[]> = {}
    if (python) {
      const file = join(work, `points-${n}-${d}.f32`)
      writeFileSync(file, new Uint8Array(X.buffer))
      const r = spawnSync('python3', [join(here, 'scipy_linkage.py'), file, String(n), String(d), String(repeats), methods.join(',')], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      })
      rmSync(file)
      if (r.status !== 0) throw new Error(`scipy_linkage.py failed: ${r.stderr}`)
      scipyTimes = JSON.parse(r.stdout).times
    }
    // All native runs first (after one warm-up), then ml-hclust: its garbage collection must not overlap them.
    for (let w = 0; w < (n <= 2000 ? 3 : 1); w++) await linkage(X, n, d, { method: methods[w % methods.length], gram })
    const nativeRunsOf: Record<string, number[]> = {}
    for (const method of methods) {
      nativeRunsOf[method] = []
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now()
        await linkage(X, n, d, { method, gram })
        nativeRunsOf[method].push(performance.now() - t0)
      }
    }
    for (const method of methods) {
      const nativeRuns = nativeRunsOf[method]
      const mlHclustRuns: number[] = []
      if (n <= ML_HCLUST_MAX_N && ML_NAME[method]) {
        const data = Array.from({ length: n }, (_, i) => Array.from(X.subarray(i * d, (i + 1) * d)))
        const mlRepeats = n <= 500 ? 3 : 1
        for (let r = 0; r < mlRepeats; r++) {
          const t0 = performance.now()
          agnes(data, { method: ML_NAME[method] })
          mlHclustRuns.push(performance.now() - t0)
        }
      }
      const scipyRuns = (scipyTimes[method] ?? []).map((s) => s * 1000)
      const row: Row = {
        n,
        d,
        method,
        nativeMs: median(nativeRuns),
        scipyMs: scipyRuns.length ? median(scipyRuns) : null,
        mlHclustMs: mlHclustRuns.length ? median(mlHclustRuns) : null,
        nativeRuns,
        scipyRuns,
        mlHclustRuns,
      }
      rows.push(row)
      console.log(line(row))
    }
  }
}
rmSync(work, { recursive: true, force: true })

function fmt(ms: number | null): string {
  if (ms === null) return '—'
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`
}
function line(r: Row): string {
  const ratio = r.scipyMs ? (r.nativeMs / r.scipyMs).toFixed(2) : '—'
  const ml = r.mlHclustMs ? `${Math.round(r.mlHclustMs / r.nativeMs)}x` : '—'
  return `| ${r.n} | ${r.d} | ${r.method} | ${fmt(r.nativeMs)} | ${fmt(r.scipyMs)} | ${fmt(r.mlHclustMs)} | ${ratio} | ${ml} |`
}

const runtime = info()
const header =
  `linkage(points) medians; native = hiexp (${gram} Gram kernel, ${runtime.threads} threads), scipy = scipy.cluster.hierarchy.linkage ` +
  `in a python3 subprocess (pdist + clustering), ml-hclust = agnes (skipped above n = ${ML_HCLUST_MAX_N}).\n` +
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}; repeats: 5 (n <= 2000), 3 (5000), 2 (10000), 1 (20000)`
console.log('\n' + header + '\n')
console.log('| n | d | method | native | scipy | ml-hclust | native / scipy | ml-hclust / native |')
console.log('|---:|---:|---|---:|---:|---:|---:|---:|')
for (const r of rows) console.log(line(r))
mkdirSync(join(here, 'results'), { recursive: true })
writeFileSync(
  join(here, 'results', `${arg('out', 'cluster')}.json`),
  JSON.stringify({ date: new Date().toISOString(), command: process.argv.slice(1).join(' '), gram, threads: runtime.threads, cpus: cpus().length, cpu: cpus()[0]?.model, rows }, null, 1),
)
console.log(`\nwrote ${join(here, 'results', `${arg('out', 'cluster')}.json`)}`)
