// Data-parallel throughput: RL steps per second of one global batch trained by 1 process and by 2 processes (each
// with half the batch, gradients all-reduced over Gloo on 127.0.0.1), and the time of one all-reduce of the gradients.
//   npx tsx bench/dist.ts [--quick] [--steps N] [--batch B] [--len T]
//   npx tsx bench/dist.ts --backend nccl --device cuda --nproc 1,2      (a GPU machine: one process per GPU)
// Writes bench/results/dist.json. Each configuration runs as its own launch(); rank 0 reports.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { Policy, Tokenizer, info, initProcessGroup, launch, shard, tinyConfig, type DistBackend } from '../lib/index.js'

const args = process.argv.slice(2)
const value = (name: string, fallback: string) => {
  const i = args.indexOf(name)
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback
}
const quick = args.includes('--quick')
const steps = Number(value('--steps', quick ? '3' : '8'))
const batch = Number(value('--batch', '16'))
const len = Number(value('--len', '64'))
const backend = value('--backend', 'gloo') as DistBackend
const device = value('--device', 'cpu')

interface Report {
  worldSize: number
  threads: number
  stepsPerSecond: number
  tokensPerSecond: number
  allReduceMs: number
  parameters: number
}

async function worker(): Promise<void> {
  const group = await initProcessGroup({ backend, timeoutMs: 120_000 })
  const words = Array.from({ length: 4096 - 13 }, (_, i) => `w${i}`)
  const tokenizer = Tokenizer.wordLevel([words.join(' ')])
  const dev = device === 'cuda' ? `cuda:${group.localRank}` : device
  const policy = await Policy.create(tinyConfig(tokenizer.vocabSize), tokenizer, { seed: 1, device: dev })
  policy.configureTraining({ lr: 1e-5 })
  await policy.attachProcessGroup(group)
  let seed = 7
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const sequences = Array.from({ length: batch }, () => Array.from({ length: len }, () => 13 + Math.floor(rand() * 4000)))
  const masks = sequences.map((s) => s.map((_, t) => (t < len / 4 ? 0 : 1)))
  const advantages = sequences.map(() => rand() * 2 - 1)
  const local = { sequences: shard(sequences, group), masks: shard(masks, group), advantages: shard(advantages, group) }
  await policy.trainStep(local) // warm-up
  await group.barrier()
  const t0 = performance.now()
  let tokens = 0
  for (let i = 0; i < steps; i++) tokens += (await policy.trainStep(local)).tokens
  const seconds = (performance.now() - t0) / 1000
  // One all-reduce of a gradient-sized buffer (what each step adds to a 1-process step, besides the smaller shard).
  const grads = new Float32Array(policy.parameterCount)
  await group.allReduce(grads)
  const t1 = performance.now()
  for (let i = 0; i < 3; i++) await group.allReduce(grads)
  const allReduceMs = (performance.now() - t1) / 3
  if (group.isMain) {
    const report: Report = {
      worldSize: group.worldSize,
      threads: info().threads,
      stepsPerSecond: steps / seconds,
      tokensPerSecond: tokens / seconds,
      allReduceMs,
      parameters: policy.parameterCount,
    }
    console.log(`REPORT ${JSON.stringify(report)}`)
  }
  await group.destroy()
}

async function main(): Promise<void> {
  const cores = os.cpus().length
  const configs: { nproc: number; threads: number }[] = []
  for (const nproc of value('--nproc', '1,2').split(',').map(Number)) {
    for (const threads of [...new Set([1, Math.max(1, Math.floor(cores / nproc))])]) configs.push({ nproc, threads })
  }
  const self = fileURLToPath(import.meta.url)
  const tsx = join(dirname(self), '..', 'node_modules', '.bin', 'tsx')
  const reports: Report[] = []
  for (const c of configs) {
    const out = new PassThrough()
    let text = ''
    out.on('data', (d) => (text += d))
    const r = await launch(
      { nproc: c.nproc, env: { HIEXP_THREADS: String(c.threads), OMP_NUM_THREADS: String(c.threads) }, stdout: out, stderr: out },
      [tsx, self, '--worker', ...args],
    )
    const line = text.split('\n').find((l) => l.includes('REPORT '))
    if (r.exitCode !== 0 || !line) throw new Error(`bench with ${c.nproc} processes failed (${r.exitCode}):\n${text}`)
    reports.push(JSON.parse(line.slice(line.indexOf('REPORT ') + 7)) as Report)
  }
  const base = reports.find((r) => r.worldSize === 1 && r.threads === 1)
  console.log(`\nData-parallel RL steps (${backend}, ${device}, ${os.cpus()[0]?.model ?? 'cpu'}, ${cores} cores; tiny policy ` +
    `${(reports[0].parameters / 1e6).toFixed(2)}M parameters; global batch ${batch} x ${len} tokens, ${steps} timed steps)\n`)
  console.log('| processes | threads / process | steps/s | tokens/s | vs 1 process, 1 thread | all-reduce of the gradients |')
  console.log('|---:|---:|---:|---:|---:|---:|')
  for (const r of reports) {
    const speedup = base ? `${(r.stepsPerSecond / base.stepsPerSecond).toFixed(2)}x` : '-'
    const ar = r.worldSize > 1 ? `${r.allReduceMs.toFixed(1)} ms` : '-'
    console.log(`| ${r.worldSize} | ${r.threads} | ${r.stepsPerSecond.toFixed(2)} | ${Math.round(r.tokensPerSecond)} | ${speedup} | ${ar} |`)
  }
  const dir = join(dirname(self), 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'dist.json'), JSON.stringify({ backend, device, batch, len, steps, cores, reports }, null, 2))
}

if (args.includes('--worker')) {
  worker().then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error.message)
      process.exit(1)
    },
  )
} else {
  main().catch((error: Error) => {
    console.error(error.message)
    process.exit(1)
  })
}
