// Defect 1 of issue 21: a search asked in the last turn ends the rollout, so a question of h hops needs h + 1 turns.
// The run's default budget must let every hop count the default world generates reach an answer, and a budget too
// small for the world's questions is refused before any work, with a message that says why.
import test from 'ava'
import { generateDemonstrations } from '../../lib/agent/demonstrations.js'
import { Tokenizer } from '../../lib/model/tokenizer.js'
import { parseTrainConfig } from '../../lib/train/config.js'
import { loadTask } from '../../lib/train/task.js'

test('with the default rollout budget, demonstrations of every hop count of the default world reach an answer', async (t) => {
  const config = parseTrainConfig({})
  const task = await loadTask(config)
  const tokenizer = Tokenizer.wordLevel(task.vocabularyTexts)
  const { dynamicSampling: _ds, ...rollout } = config.rollout
  const hopCounts = [...new Set(task.train.map((q) => q.hops!))].sort()
  t.deepEqual(hopCounts, [1, 2, 3, 4])
  for (const hops of hopCounts) {
    const questions = task.train.filter((q) => q.hops === hops).slice(0, 12)
    const demos = await generateDemonstrations(questions, task.retriever, tokenizer, rollout)
    const answered = demos.filter((d) => d.finish === 'answer').length
    t.is(answered, questions.length, `${hops}-hop demonstrations that reach an answer`)
    for (const d of demos) t.is(d.searchCalls, hops)
  }
})

test('a maxTurns too small for the world is refused, naming the hop count and the turns it needs', (t) => {
  t.throws(() => parseTrainConfig({ rollout: { maxTurns: 4 } }), {
    message: /rollout\.maxTurns: 4 turns cannot answer the world's 4-hop questions \(one search per hop, then the answer: at least 5\)/,
  })
  t.throws(() => parseTrainConfig({ task: { world: { hops: [2, 3] } }, rollout: { maxTurns: 3 } }), { message: /3-hop questions .* at least 4/ })
  t.notThrows(() => parseTrainConfig({ task: { world: { hops: [2, 3] } }, rollout: { maxTurns: 4 } }))
  // Search-R1 files have no hop counts the run could check: the budget is the user's.
  t.notThrows(() => parseTrainConfig({ task: { kind: 'searchr1', trainFile: 'x.jsonl', corpusFile: 'c.jsonl' }, rollout: { maxTurns: 2 } }))
})
