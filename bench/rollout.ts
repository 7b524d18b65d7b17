/**
 * Rollout throughput: rollouts per second and the share of wall time spent in generation, retrieval and training.
 *
 *   npx tsx bench/rollout.ts                          # oracle policy: the loop's and retrieval's own cost
 *   npx tsx bench/rollout.ts --policy tiny            # the tiny from-scratch policy, with a train step
 *   npx tsx bench/rollout.ts --retriever http         # BM25 behind the loopback Search-R1 server
 *
 *   npx tsx bench/rollout.ts --policy tiny --decode stepwise   # the JavaScript-driven decode loop, for comparison
 *
 * Options: --questions N (per step, default 8) --group G (rollouts per question, default 4) --steps S (default 3)
 * --topk K (default 3) --seed N. Prints one table row per configuration.
 */
import { Command } from 'commander'
import { performance } from 'node:perf_hooks'
import { OraclePolicy, oracleTurns } from '../lib/agent/demonstrations.js'
import type { GenerationPolicy } from '../lib/agent/policy.js'
import { tinyConfig } from '../lib/model/config.js'
import { Policy } from '../lib/model/policy.js'
import { Tokenizer } from '../lib/model/tokenizer.js'
import { DEFAULT_TEMPLATE, promptVocabularyTexts, renderPrompt } from '../lib/agent/prompt.js'
import { runRollouts, type Rollout } from '../lib/agent/rollout.js'
import { generateWorld, worldTexts } from '../lib/env/world.js'
import { Bm25Retriever } from '../lib/search/bm25.js'
import { HttpRetriever } from '../lib/search/http.js'
import { startRetrievalServer } from '../lib/search/server.js'
import type { Retriever } from '../lib/search/types.js'

const cli = new Command()
  .option('--policy <kind>', 'oracle | tiny', 'oracle')
  .option('--retriever <kind>', 'bm25 | http', 'bm25')
  .option('--questions <n>', 'questions per step', (v) => Number.parseInt(v, 10), 8)
  .option('--group <n>', 'rollouts per question', (v) => Number.parseInt(v, 10), 4)
  .option('--steps <n>', 'steps', (v) => Number.parseInt(v, 10), 3)
  .option('--topk <n>', 'passages per search', (v) => Number.parseInt(v, 10), 3)
  .option('--seed <n>', 'world seed', (v) => Number.parseInt(v, 10), 0)
  .option('--decode <loop>', 'native | stepwise (the tiny policy\'s decode loop)', 'native')
  .parse()
const o = cli.opts<{ policy: string; retriever: string; questions: number; group: number; steps: number; topk: number; seed: number; decode: string }>()

async function main() {
  const world = generateWorld({ seed: o.seed })
  const texts = [...worldTexts(world), ...promptVocabularyTexts(DEFAULT_TEMPLATE, o.topk)]
  const bm25 = Bm25Retriever.build(world.corpus)
  let retriever: Retriever = bm25
  let close = async () => {}
  if (o.retriever === 'http') {
    const server = await startRetrievalServer({ retriever: bm25 })
    retriever = new HttpRetriever({ url: server.url })
    close = server.close
  }
  const questions = world.questions.train
  let policy: GenerationPolicy
  let trainable: Policy | undefined
  const tokenizer = Tokenizer.wordLevel(texts)
  if (o.policy === 'tiny') {
    trainable = await Policy.create(tinyConfig(tokenizer.vocabSize), tokenizer, { seed: 0 })
    trainable.configureTraining({ lr: 1e-4 })
    trainable.nativeDecode = o.decode !== 'stepwise'
    policy = trainable
  } else {
    const oracle = new OraclePolicy(tokenizer)
    for (const q of questions) oracle.add(renderPrompt(DEFAULT_TEMPLATE, { question: q.question }), oracleTurns(q))
    policy = oracle
  }
  const options = { topk: o.topk, maxTurns: 5, maxTurnTokens: 32, maxTotalTokens: 1024, maxInfoTokens: 256, seed: 1 }
  let gen = 0
  let ret = 0
  let train = 0
  let n = 0
  let tokens = 0
  const started = performance.now()
  for (let step = 0; step < o.steps; step++) {
    const batch = questions.slice(step * o.questions, (step + 1) * o.questions)
    const requests = batch.flatMap((q) => Array.from({ length: o.group }, () => ({ question: q.question })))
    const { rollouts, timing } = await runRollouts(policy, retriever, requests, options)
    gen += timing.generateMs
    ret += timing.retrieveMs
    n += rollouts.length
    tokens += rollouts.reduce((s, r) => s + r.tokens.length, 0)
    if (trainable) {
      const t0 = performance.now()
      await trainable.trainStep(rlBatch(rollouts))
      train += performance.now() - t0
    }
  }
  const total = performance.now() - started
  await close()
  const pct = (x: number) => `${((100 * x) / total).toFixed(1)}%`
  console.table([
    {
      policy: o.policy + (trainable ? ` (${o.decode})` : ''),
      retriever: o.retriever,
      rollouts: n,
      'rollouts/s': (n / (total / 1000)).toFixed(1),
      generate: pct(gen),
      retrieve: pct(ret),
      train: trainable ? pct(train) : '-',
      'loop/other': pct(total - gen - ret - train),
      'tokens/rollout': (tokens / n).toFixed(0),
      'wall s': (total / 1000).toFixed(2),
    },
  ])
}

function rlBatch(rollouts: Rollout[]) {
  return {
    sequences: rollouts.map((r) => r.tokens),
    masks: rollouts.map((r) => r.mask),
    advantages: Float32Array.from(rollouts, (_, i) => (i % 2 === 0 ? 1 : -1)),
    oldLogprobs: rollouts.map((r) => r.logprobs),
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).message)
  process.exit(1)
})
