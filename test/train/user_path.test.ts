// The user's path through a run (issue 23): HiExp's own number shown beside EM, training.png from the API, a
// TensorBoard logger and onStep, user hooks (reward function, retriever), and the traps a new user fell into.
import test from 'ava'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import type { RlMetrics } from '../../lib/report/metrics.js'
import { readEventFile } from '../../lib/report/tensorboard.js'
import { tinyRun } from './fixtures/tiny_run.js'

const fresh = (t: { teardown: (f: () => void) => void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-userpath-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Console lines (console.error / console.warn and the progress lines on stderr) while `f` runs. */
async function captureConsole<T>(f: () => Promise<T>): Promise<{ value: T; text: string }> {
  const lines: string[] = []
  const saved = { error: console.error, warn: console.warn, write: process.stderr.write.bind(process.stderr) }
  console.error = (...a: unknown[]) => void lines.push(a.join(' '))
  console.warn = (...a: unknown[]) => void lines.push(a.join(' '))
  process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write
  try {
    return { value: await f(), text: lines.join('\n') }
  } finally {
    Object.assign(console, { error: saved.error, warn: saved.warn })
    process.stderr.write = saved.write
  }
}

async function givenHek(dir: string): Promise<string> {
  const advice = ['Search the first entity named in the question before anything else', 'Do not answer before any search', 'Search each hop of the chain in order']
  const experiences = advice.map((text, i) => ({ id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 5, successRate: 0.8, sources: [] }))
  const file = join(dir, 'given-hek.json')
  ;(await hx.HierarchicalExperience.build(experiences)).save(file)
  return file
}

test.serial('a HiExp run shows EM and EM with the HEK in each validation line; run() writes training.png naming the method; TensorBoard and onStep see every step', async (t) => {
  const dir = fresh(t)
  const hekFile = await givenHek(dir)
  const out = join(dir, 'run')
  const trainer = await hx.Trainer.create(tinyRun(out, { steps: 2, logger: ['jsonl', 'tensorboard'], experience: { enabled: true, hekFile, tokenBudget: 64 } }))
  const seen: RlMetrics[] = []
  const { value: result, text } = await captureConsole(() => trainer.run({ onStep: (row) => void seen.push(row) }))
  // The step-0 validation (after the warm start) has no HEK yet; every later one shows both numbers, labelled.
  t.regex(text, /step 0 \(after the warm start\): validation EM \d\.\d{3} F1 \d\.\d{3}\n?/)
  t.regex(text, /step 1: validation EM \d\.\d{3} F1 \d\.\d{3} · EM with HEK \d\.\d{3} F1 with HEK \d\.\d{3}/)
  t.regex(text, /step 2: validation EM \d\.\d{3} F1 \d\.\d{3} · EM with HEK \d\.\d{3}/)
  const last = result.validation.at(-1)!
  t.is(typeof last.emWithExperience, 'number')
  t.true(text.includes(`EM with HEK ${last.emWithExperience!.toFixed(3)}`))
  // D8: the API run wrote the curves; the legend names the method and both measures.
  t.deepEqual(result.plot, { svg: join(out, 'training.svg'), png: join(out, 'training.png') })
  t.true(existsSync(join(out, 'training.png')))
  const svg = readFileSync(join(out, 'training.svg'), 'utf8')
  t.regex(svg, /hiexp-grpo/)
  t.regex(svg, /EM with HEK/)
  t.notRegex(svg, />grpo</)
  // onStep got the rows as written (with their time), and the event file holds the same scalars per step.
  t.deepEqual(seen.map((r) => r.step), [1, 2])
  t.true(seen.every((r) => typeof r.time === 'number'))
  const files = readdirSync(join(out, 'tensorboard'))
  t.is(files.length, 1)
  const events = readEventFile(join(out, 'tensorboard', files[0]))
  const reward = events.flatMap((e) => e.summary?.value.filter((v) => v.tag === 'rl/rewardMean').map((v) => [e.step, v.simpleValue]) ?? [])
  t.deepEqual(reward, seen.map((r) => [r.step, Math.fround(r.rewardMean)]))
  t.true(events.some((e) => e.summary?.value.some((v) => v.tag === 'validation/emWithExperience')))
  // The saved config holds the effective values (D13): the algorithm's clip range, AdamW's moments.
  const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))
  t.like(saved.loss, { clipLow: 0.2, clipHigh: 0.2, aggregation: 'token-mean', klCoef: 1e-3 })
  t.like(saved.optimizer, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 })
  t.is(saved.rollout.chat, 'none')
})

test.serial('a reward function and a retriever passed to Trainer.create are used (typed hooks)', async (t) => {
  const dir = fresh(t)
  const seen: hx.RewardFunctionInput[] = []
  let searches = 0
  const base = hx.Bm25Retriever.build(hx.generateWorld({ seed: 3, countries: 2, cities: 4, people: 8, organisations: 2, films: 2, books: 2, questionsPerHop: 12, hops: [1, 2] }).corpus)
  const retriever: hx.Retriever = { search: (queries, k) => ((searches += queries.length), base.search(queries, k)) }
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 1, warmStart: { steps: 0 } }), {
    reward: (input) => (seen.push(input), input.groundTruth.includes('never an answer') ? 0 : 0.75),
    retriever,
  })
  const row = await trainer.rlStep()
  t.is(row.rewardMean, 0.75)
  t.is(seen.length, 6)
  t.true(seen.every((s) => typeof s.solution === 'string' && s.dataSource !== '' && s.builtIn.total >= -1))
  t.is(row.searchCalls > 0, searches > 0)
  const bad = await hx.Trainer.create(tinyRun(join(dir, 'bad'), { steps: 1, warmStart: { steps: 0 } }), { reward: () => NaN })
  await t.throwsAsync(bad.rlStep(), { instanceOf: TypeError, message: /the reward function returned NaN for question .*expected a finite number/ })
})

test.serial('D3: a failed first attempt does not lock the folder; the corrected config starts the run', async (t) => {
  const dir = fresh(t)
  await t.throwsAsync(hx.Trainer.create({ ...tinyRun(dir), task: { kind: 'searchr1' } }), { message: /task\.trainFile is required/ })
  t.true(existsSync(join(dir, 'config.json')))
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 1 }))
  t.is(trainer.step, 0)
  t.is(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).task.kind, 'world')
})

test.serial('D4: rollout.maxTurns 1 names the turns, not the token budget', async (t) => {
  const dir = fresh(t)
  // Refused with the config now (issue 21, defect 1: a world's h-hop questions need h + 1 turns), before any work.
  const error = await t.throwsAsync(hx.Trainer.create(tinyRun(dir, { rollout: { topk: 2, maxTurns: 1, maxTurnTokens: 12, maxTotalTokens: 320, maxInfoTokens: 96 } })))
  t.regex(error!.message, /rollout\.maxTurns: 1 turns cannot answer the world's 2-hop questions \(one search per hop, then the answer: at least 3\)/)
  t.notRegex(error!.message, /maxTotalTokens/)
})

test.serial('D5: ignored options and misaligned batches are refused; groupSize 1 warns', async (t) => {
  const dir = fresh(t)
  const { value: trainer, text } = await captureConsole(() => hx.Trainer.create(tinyRun(dir, { groupSize: 1, steps: 1 })))
  t.regex(text, /groupSize 1 with the 'grpo' advantage: each group is one rollout, so there is no group baseline/)
  const policy = trainer.policy
  t.throws(() => policy.configureTraining({ learning_rate: 1e-3 } as never), { instanceOf: RangeError, message: /configureTraining: unknown option 'learning_rate' \(known: lr, beta1/ })
  const seq = policy.tokenizer.encode('Question: where')
  await t.throwsAsync(policy.trainStep({ sequences: [seq], masks: [[0, 1]], advantages: [1] }), { instanceOf: RangeError, message: /masks\[0\] has 2 values for the \d+ tokens of sequences\[0\]/ })
  await t.throwsAsync(policy.sftStep({ sequences: [seq], masks: [[0]] }), { instanceOf: RangeError, message: /masks\[0\] has 1 values/ })
  t.throws(() => hx.readMetrics(join(dir, 'missing.jsonl')), { message: /readMetrics: .*missing\.jsonl: no such file/ })
})

test.serial('D6: missing files are named with the option or function that wanted them; a Hub id is recognised', async (t) => {
  const dir = fresh(t)
  await t.throwsAsync(hx.loadQaDataset(join(dir, 'nope.parquet')), { message: /loadQaDataset: cannot read .*nope\.parquet: no such file/ })
  await t.throwsAsync(hx.loadCorpusJsonl(join(dir, 'corpus.jsonl')), { message: /loadCorpusJsonl \(corpus\): cannot read .*corpus\.jsonl: no such file/ })
  await t.throwsAsync(hx.Trainer.create({ ...tinyRun(dir), task: { kind: 'searchr1', trainFile: join(dir, 'train.parquet'), corpusFile: join(dir, 'c.jsonl') } }), {
    message: /train config: task\.trainFile: cannot read .*train\.parquet: no such file/,
  })
  t.throws(() => hx.loadTrainConfig(join(dir, 'missing.json')), { message: /train config: cannot read .*missing\.json: no such file/ })
  await t.throwsAsync(hx.Policy.load('Qwen/Qwen2.5-0.5B-Instruct'), { message: /looks like a Hugging Face Hub id.*download it first \(huggingface-cli download Qwen\/Qwen2\.5-0\.5B-Instruct --local-dir models\/Qwen2\.5-0\.5B-Instruct\)/ })
  writeFileSync(join(dir, 'x'), '')
})

test.serial('D9: the HEK build rollouts report their progress after each turn, up to the whole batch', async (t) => {
  const dir = fresh(t)
  const trainer = await hx.Trainer.create(tinyRun(dir, { warmStart: { steps: 0 } }))
  const calls: Array<[number, number]> = []
  const { dynamicSampling: _d, ...rollout } = trainer.config.rollout
  const records = await hx.collectTrajectories(
    trainer.policy, trainer.task.retriever, trainer.task.train.slice(0, 2), 3, hx.parseRolloutOptions(rollout), hx.parseRewardConfig(trainer.config.reward), trainer.trajectories, 0,
    { onTurn: (finished, total) => void calls.push([finished, total]) },
  )
  t.is(records.length, 6)
  t.true(calls.length >= 2)
  t.true(calls.every(([, total]) => total === 6))
  t.deepEqual(calls.at(-1), [6, 6])
  t.true(calls.every(([f], i) => i === 0 || f >= calls[i - 1]![0]))
})
