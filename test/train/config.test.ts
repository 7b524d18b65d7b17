// The run config is composed from the parts' schemas: partial blocks keep every other default, unknown keys are
// refused in every block, errors name the config path, and real checkpoints get their own defaults.
import test from 'ava'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseTrainConfig, POLICY_DEFAULTS } from '../../lib/train/config.js'
import { Trainer } from '../../lib/train/trainer.js'

const defaults = parseTrainConfig({})

// The run's documented defaults, written out here independently of the schema that produces them.
test('the run defaults are the documented ones', (t) => {
  const { template: _template, ...rollout } = defaults.rollout
  t.deepEqual(rollout, { chat: 'none', topk: 3, maxTurns: 5, maxTurnTokens: 24, maxTotalTokens: 640, maxInfoTokens: 192, temperature: 1 })
  t.deepEqual(defaults.reward, { metric: 'em', answerWeight: 1, formatWeight: 0.1, requireThink: false, malformedPenalty: 0.1, repeatedQueryPenalty: 0 })
  t.deepEqual(defaults.optimizer, { lr: 3e-4, maxGradNorm: 1, warmupSteps: 2 })
  t.is(defaults.warmStart.steps, 150)
  t.is(defaults.warmStart.lr, 2e-3)
})

test('a partial rollout block changes only the field it sets', (t) => {
  const c = parseTrainConfig({ rollout: { topk: 5 } })
  t.deepEqual(c.rollout, { ...defaults.rollout, topk: 5 })
  const budget = parseTrainConfig({ rollout: { maxTurns: 6 } })
  t.deepEqual(budget.rollout, { ...defaults.rollout, maxTurns: 6 })
})

test('a partial reward block keeps the format weight and the malformed penalty', (t) => {
  const c = parseTrainConfig({ reward: { metric: 'f1' } })
  t.deepEqual(c.reward, { ...defaults.reward, metric: 'f1' })
  t.is(c.reward.formatWeight, 0.1)
  t.is(c.reward.malformedPenalty, 0.1)
})

test('a partial optimizer block keeps the other optimiser defaults', (t) => {
  t.deepEqual(parseTrainConfig({ optimizer: { lr: 1e-5 } }).optimizer, { lr: 1e-5, maxGradNorm: 1, warmupSteps: 2 })
  t.deepEqual(parseTrainConfig({ optimizer: { warmupSteps: 0 } }).optimizer, { lr: 3e-4, maxGradNorm: 1, warmupSteps: 0 })
})

test('unknown keys are refused in every block, with the config path', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ optimizer: { learningRate: 1e-6 } }, /^train config: optimizer: Unrecognized key\(s\) in object: 'learningRate'$/],
    [{ rollout: { topK5: 5 } }, /^train config: rollout: Unrecognized key\(s\) in object: 'topK5'$/],
    [{ reward: { formatWieght: 1 } }, /^train config: reward: Unrecognized key\(s\) in object: 'formatWieght'$/],
    [{ task: { world: { peple: 3 } } }, /^train config: task.world: Unrecognized key\(s\) in object: 'peple'$/],
    [{ task: { kind: 'arithmetic', arithmetic: { step: [1] } } }, /^train config: task.arithmetic: Unrecognized key\(s\) in object: 'step'$/],
  ]
  for (const [config, message] of cases) t.throws(() => parseTrainConfig(config), { instanceOf: RangeError, message })
})

test('bad values are named by their config path, not by the module that would have used them', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ optimizer: { lr: 'fast' } }, /^train config: optimizer.lr: Expected number, received string$/],
    [{ optimizer: { lr: -1 } }, /^train config: optimizer.lr: Number must be greater than 0$/],
    [{ optimizer: { schedule: 'cosine' } }, /^train config: optimizer.totalSteps: schedule 'cosine' needs totalSteps$/],
    [{ rollout: { topk: 0 } }, /^train config: rollout.topk: Number must be greater than or equal to 1$/],
    [{ rollout: { template: 'no slot' } }, /^train config: rollout.template: must contain the \{question\} slot$/],
    [{ reward: { metric: 'bleu' } }, /^train config: reward.metric: Invalid enum value/],
    [{ task: { world: { people: 0 } } }, /^train config: task.world.people: Number must be greater than or equal to 1$/],
    [{ task: { world: { countries: 5, cities: 2 } } }, /^train config: task.world.cities: cities must be >= countries/],
    [{ task: { arithmetic: { maxValue: 3 } } }, /^train config: task.arithmetic.maxValue: Number must be greater than or equal to 10$/],
  ]
  for (const [config, message] of cases) t.throws(() => parseTrainConfig(config), { instanceOf: RangeError, message })
})

test('generator options are checked but kept as given (the world seed follows the run seed)', (t) => {
  t.deepEqual(parseTrainConfig({ task: { world: { people: 20 } } }).task.world, { people: 20 })
  t.deepEqual(defaults.task.world, {})
})

test('a bad optimizer block is refused before any work: no output folder is made', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'hiexp-config-')), 'run')
  t.teardown(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
  await t.throwsAsync(Trainer.create({ outDir: dir, optimizer: { lr: 'fast' } } as never), { message: /^train config: optimizer.lr: Expected number/ })
  await t.throwsAsync(Trainer.create({ outDir: dir, optimizer: { learningRate: 1e-6 } } as never), { message: /optimizer: Unrecognized key\(s\) in object: 'learningRate'/ })
  t.false(existsSync(dir))
})

test('a real checkpoint gets checkpoint defaults: no warm start, small learning rates; set values win', (t) => {
  const c = parseTrainConfig({ policy: { checkpoint: '/models/Qwen2.5-0.5B-Instruct' } })
  t.is(c.optimizer.lr, 1e-6)
  t.is(c.warmStart.steps, 0)
  t.is(c.warmStart.lr, 1e-5)
  t.deepEqual(POLICY_DEFAULTS.checkpoint, { optimizerLr: 1e-6, warmStartSteps: 0, warmStartLr: 1e-5, chat: 'search-r1' })
  const asked = parseTrainConfig({ policy: { checkpoint: '/models/q' }, optimizer: { lr: 5e-7 }, warmStart: { steps: 20 } })
  t.is(asked.optimizer.lr, 5e-7)
  t.is(asked.warmStart.steps, 20)
  t.is(asked.warmStart.lr, 1e-5)
  // A resolved config parses to itself (compare and the CLI parse again after overriding a field).
  t.deepEqual(parseTrainConfig(c), c)
  t.deepEqual(parseTrainConfig(defaults), defaults)
})
