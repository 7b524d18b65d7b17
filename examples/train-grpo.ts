// Plain GRPO on the embedded world: warm start on oracle demonstrations, then RL; run with `npx tsx examples/train-grpo.ts`.
// Swap in your own data: task: { kind: 'searchr1', trainFile, testFile, corpusFile | retrieverUrl },
// policy: { checkpoint: 'Qwen2.5-0.5B-Instruct', device: 'cuda', dtype: 'bfloat16' }.
import * as hx from 'hiexp'

const trainer = await hx.Trainer.create({
  outDir: 'runs/grpo',
  algorithm: 'grpo',
  steps: 30,
  warmStart: { steps: 300 },
  optimizer: { lr: 2e-4, maxGradNorm: 1 },
})
await trainer.run()
const test = await trainer.evaluate(trainer.task.test)
console.log(`test EM ${test.em.toFixed(3)}, F1 ${test.f1.toFixed(3)}, search calls ${test.searchCalls.toFixed(2)}`)
for (const [hops, s] of Object.entries(test.byHops)) console.log(`  ${hops}-hop: EM ${s.em.toFixed(3)} (${s.n} questions)`)
await hx.plotTraining([{ name: 'grpo', metricsFile: 'runs/grpo/metrics.jsonl' }], 'runs/grpo/training')
