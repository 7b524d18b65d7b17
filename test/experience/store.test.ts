import test from 'ava'
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runRollouts } from '../../lib/agent/rollout.js'
import { makeReward } from '../../lib/agent/reward.js'
import { readTrajectories, recordFromRollout, TrajectoryStore, TrajectoryTail } from '../../lib/experience/store.js'
import { groupTrajectories } from '../../lib/experience/types.js'
import { byQuestion, FixedRetriever, ScriptedPolicy } from '../agent/helpers.js'
import { traj } from './helpers.js'

const dir = () => mkdtempSync(join(tmpdir(), 'hiexp-store-'))

test('records from real rollouts round-trip through the store', async (t) => {
  const policy = new ScriptedPolicy(byQuestion({ 'who founded Acme ?': ['<search> Acme founded </search>', '<answer> Bob </answer>'] }))
  const retriever = new FixedRetriever(() => [{ id: 'd1', contents: '"Acme"\nAcme was founded by Bob.' }])
  const { rollouts } = await runRollouts(policy, retriever, [{ question: 'who founded Acme ?' }, { question: 'who founded Acme ?' }])
  const reward = makeReward()
  const example = { id: 'q1', question: 'who founded Acme ?', taskType: 'multihop', hops: 1, goldAnswers: ['Bob'] }
  const records = rollouts.map((r) => recordFromRollout(r, { example, reward: reward(r, example.goldAnswers), step: 3 }))
  const store = new TrajectoryStore(join(dir(), 'sub', 'traj.jsonl'))
  store.append(records)
  const back = store.read()
  t.deepEqual(back, records)
  t.is(back[0].id, 'q1#3#0')
  t.deepEqual(back[0].queries, ['Acme founded'])
  t.deepEqual(back[0].turns[0].passageIds, ['d1'])
  t.is(back[0].reward.total, 1)
  t.is(back[0].totalTokens, rollouts[0].tokens.length)
  t.is(groupTrajectories(back).length, 1)
  const later = back.map((r) => ({ ...r, id: `${r.id}'`, step: 4 }))
  t.is(groupTrajectories([...back, ...later]).length, 1)
  t.is(groupTrajectories([...back, ...later], { by: 'question-step' }).length, 2)
})

test('a partial last line (a write in progress) is ignored, then read once complete', (t) => {
  const path = join(dir(), 't.jsonl')
  const store = new TrajectoryStore(path)
  store.append([traj('a', 'q?', [{ answer: 'x' }], { reward: 1 }), traj('b', 'q?', [{ answer: 'y' }], { reward: 0 })])
  const tail = new TrajectoryTail(path)
  t.is(tail.poll().length, 2)
  const line = JSON.stringify(traj('c', 'q?', [{ answer: 'z' }], { reward: 1 }))
  appendFileSync(path, line.slice(0, 40))
  t.is(tail.poll().length, 0)
  t.is(readTrajectories(path).records.length, 2)
  appendFileSync(path, line.slice(40) + '\n')
  const got = tail.poll()
  t.is(got.length, 1)
  t.is(got[0].questionId, 'c')
  t.is(tail.poll().length, 0)
})

test('a corrupt complete line is reported with its line number, or skipped on request', (t) => {
  const path = join(dir(), 't.jsonl')
  writeFileSync(path, JSON.stringify(traj('a', 'q?', [{ answer: 'x' }], { reward: 1 })) + '\n{"oops": 1}\n')
  const e = t.throws(() => readTrajectories(path))
  t.regex(e!.message, /line 2 is not a trajectory record: .*id/)
  t.is(readTrajectories(path, { onInvalid: 'skip' }).skipped, 1)
  t.deepEqual(readTrajectories(join(dir(), 'missing.jsonl')).records, [])
})

test('append validates records and names the bad one', (t) => {
  const store = new TrajectoryStore(join(dir(), 't.jsonl'))
  const bad = { ...traj('a', 'q?', [], { reward: 0 }), reward: { em: 1 } }
  t.throws(() => store.append([bad as never]), { message: /records\[0\]: reward/ })
})
