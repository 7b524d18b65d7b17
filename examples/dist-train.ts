/**
 * Data-parallel RL steps on a tiny policy: each rank trains on its shard of every global batch, gradients are summed
 * over the ranks (Gloo on CPU), rank 0 writes checkpoints, and a restart resumes from the last one.
 *
 *   npx tsx examples/dist-train.ts --steps 20                                     # 1 process
 *   npx hiexp launch --nproc 2 -- npx tsx examples/dist-train.ts --steps 20       # 2 processes on this machine
 *
 * Options: --steps N (default 20), --checkpoint DIR (default ./dist-ckpt), --every N (checkpoint every N steps, 5),
 * --device cpu|cuda (cuda: backend nccl, one process per GPU).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Command } from 'commander'
import { initProcessGroup, isMainRank, shard } from '../lib/distributed/index.js'
import { tinyConfig } from '../lib/model/config.js'
import { Policy } from '../lib/model/policy.js'
import { Tokenizer } from '../lib/model/tokenizer.js'

const opts = new Command()
  .option('--steps <n>', 'optimiser steps in all', '20')
  .option('--checkpoint <dir>', 'checkpoint folder', 'dist-ckpt')
  .option('--every <n>', 'checkpoint every n steps', '5')
  .option('--device <device>', 'cpu or cuda', 'cpu')
  .parse()
  .opts<{ steps: string; checkpoint: string; every: string; device: string }>()

const cuda = opts.device === 'cuda'
// RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT come from the launcher (a lone process is rank 0 of 1).
const group = await initProcessGroup({ backend: cuda ? 'nccl' : 'gloo', timeoutMs: 120_000 })
const device = cuda ? `cuda:${group.localRank}` : 'cpu'

const words = ['the', 'cat', 'sat', 'on', 'mat', 'a', 'dog', 'ran', 'in', 'park', 'one', 'two', 'three']
const tokenizer = Tokenizer.wordLevel([words.join(' ')])
const resume = existsSync(join(opts.checkpoint, 'hiexp_trainer.json'))
const policy = resume
  ? await Policy.loadCheckpoint(opts.checkpoint, { device })
  : await Policy.create(tinyConfig(tokenizer.vocabSize, { hiddenSize: 64, intermediateSize: 128, numLayers: 2 }), tokenizer, { seed: 1, device })
policy.configureTraining({ lr: 3e-3 })
await policy.attachProcessGroup(group) // rank 0's weights everywhere
if (isMainRank()) console.log(`${group.worldSize} rank(s); ${resume ? `resumed at step ${policy.step}` : 'fresh start'}`)

// A toy reward: sequences rich in 'cat' (id of words[1]) get positive advantages. A real job rolls out its shard of
// questions here (whole groups per rank, so that group advantages need no communication).
const ids = words.map((w) => tokenizer.idOf(w)!)
const catId = ids[1]
for (let step = policy.step; step < Number(opts.steps); step++) {
  const prompts = Array.from({ length: 16 }, (_, i) => [ids[0], ids[1 + ((i * 7 + step) % 12)]])
  const mine = shard(prompts, group)
  const gens = await policy.generate(mine, { maxNewTokens: 8, seed: 1000 * step + group.rank })
  const sequences = mine.map((p, i) => [...p, ...gens[i].tokens])
  const rewards = gens.map((g) => g.tokens.filter((t) => t === catId).length / g.tokens.length)
  const { mean } = await group.reduceMetrics({ mean: rewards.reduce((a, b) => a + b, 0) / rewards.length })
  const stats = await policy.trainStep({
    sequences,
    masks: sequences.map((s, i) => s.map((_, t) => (t >= mine[i].length ? 1 : 0))),
    advantages: rewards.map((r) => r - mean),
    oldLogprobs: sequences.map((s, i) => [...new Array(mine[i].length).fill(0), ...gens[i].logprobs]),
  })
  if (isMainRank()) console.log(`step ${stats.step}: loss ${stats.loss.toFixed(4)}, mean reward ${mean.toFixed(3)}`)
  // Every rank calls saveCheckpoint; rank 0 alone writes it.
  if (stats.step % Number(opts.every) === 0) await policy.saveCheckpoint(opts.checkpoint)
}
await group.destroy()
