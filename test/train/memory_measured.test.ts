// The config-time memory estimate against a real step's peak RSS (issue 22, B2: groupSize 1200 was estimated 0.28 GB
// and peaked at 4.37 GB). The step runs in a child process so that its peak is its own.
import test from 'ava'
import { describeChild, REPO, runChild } from '../helpers/run_child.js'

test('one RL step of 256 rollouts of the untrained tiny policy peaks below the estimate that admitted it', (t) => {
  // Untrained, the policy writes until the turn's token budget (576 of 640): every rollout holds its whole KV cache, the worst case.
  const r = runChild(`
    import { mkdtempSync, rmSync } from 'node:fs'
    import { tmpdir } from 'node:os'
    import { join } from 'node:path'
    import { Trainer, parseTrainConfig } from '${REPO}/lib/index.js'
    import { estimateRolloutMemory } from '${REPO}/lib/train/memory.js'
    const outDir = mkdtempSync(join(tmpdir(), 'hiexp-mem-step-'))
    const config = { outDir, seed: 1, steps: 1, questionsPerStep: 1, groupSize: 256, warmStart: { steps: 0 },
      rollout: { maxTurnTokens: 576 }, validation: { every: 100, questions: 1 }, checkpointEvery: 100 }
    const trainer = await Trainer.create(config)
    const row = await trainer.rlStep()
    const peak = process.resourceUsage().maxRSS * 1024
    rmSync(outDir, { recursive: true, force: true })
    console.log(JSON.stringify({ peak, estimate: estimateRolloutMemory(parseTrainConfig(config)).bytes, tokens: row.tokensPerRollout ?? null }))
  `, 600_000)
  t.is(r.status, 0, describeChild(r))
  const m = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { peak: number; estimate: number }
  t.log(`peak ${(m.peak / 2 ** 20).toFixed(0)} MB, estimate ${(m.estimate / 2 ** 20).toFixed(0)} MB`)
  t.true(m.peak <= m.estimate, `peak RSS ${(m.peak / 2 ** 20).toFixed(0)} MB over the estimate ${(m.estimate / 2 ** 20).toFixed(0)} MB`)
})
