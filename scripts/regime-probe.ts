/**
 * Measures how hard a task configuration is for its warm-started policy, before any RL: warm-start the policy as
 * `hiexp train` would (same config, same seed), then sample G rollouts (temperature of the config, no experiences) on
 * questions of the train (or validation) split and report, per hop count:
 *   - success: share of rollouts whose answer is an exact match (the unguided group success rate);
 *   - pass@G: share of groups with at least one success;
 *   - zero-variance share: groups whose G total rewards are all equal (GRPO gives them no gradient);
 *   - contrast: in groups with both outcomes, how often the successes searched every bridge entity of the gold chain
 *     while the failures did not (the knowledge a contrast of the two can find).
 *
 *   npx tsx scripts/regime-probe.ts -c examples/configs/exploration-limited.json --seeds 0,1 --questions 96 --out x.json
 *
 * Never run it on the test split: a regime tuned on test questions would not test anything.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { computeReward, parseRewardConfig } from '../lib/agent/reward.js'
import { parseRolloutOptions, runRollouts, type Rollout } from '../lib/agent/rollout.js'
import type { QaExample } from '../lib/env/types.js'
import { loadTrainConfig } from '../lib/train/config.js'
import { Trainer } from '../lib/train/trainer.js'
import { Random } from '../lib/util/random.js'

const { values } = parseArgs({
  options: {
    config: { type: 'string', short: 'c' },
    seeds: { type: 'string', default: '0' },
    questions: { type: 'string', default: '96' },
    group: { type: 'string', default: '5' },
    split: { type: 'string', default: 'train' },
    out: { type: 'string' },
  },
})
if (!values.config) throw new RangeError('regime-probe: --config <file> is required')
if (values.split !== 'train' && values.split !== 'validation') throw new RangeError(`regime-probe: --split must be train or validation, got ${values.split}`)
const split = values.split as 'train' | 'validation'
const seeds = values.seeds!.split(',').map(Number)
const nQuestions = Number(values.questions)
const G = Number(values.group)
for (const [name, v] of [['questions', nQuestions], ['group', G]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`regime-probe: --${name} must be a positive integer`)
}

interface Cell {
  groups: number
  rollouts: number
  successes: number
  groupsWithSuccess: number
  zeroVariance: number
  allFail: number
  mixed: number
  /** Mixed groups in which every success searched each bridge entity and at least one failure did not. */
  mixedBridgeContrast: number
  searchCallsSuccess: number
  searchCallsFailure: number
  failures: number
}
const cell = (): Cell => ({
  groups: 0, rollouts: 0, successes: 0, groupsWithSuccess: 0, zeroVariance: 0, allFail: 0, mixed: 0, mixedBridgeContrast: 0,
  searchCallsSuccess: 0, searchCallsFailure: 0, failures: 0,
})

/** Did the rollout search every entity between the question's and the answer (the bridges), by name? */
const searchedBridges = (r: Rollout, q: QaExample) => {
  const bridges = (q.chain ?? []).slice(1, -1).map((b) => b.toLowerCase())
  const queries = r.queries.map((x) => x.toLowerCase())
  return bridges.every((b) => queries.some((x) => x.includes(b)))
}

/** Up to n questions, the same number of each hop count where the split has them (seeded). */
function sample(questions: readonly QaExample[], n: number, rng: Random): QaExample[] {
  const byHops = new Map<number, QaExample[]>()
  for (const q of rng.shuffle(questions)) {
    const h = q.hops ?? 0
    if (!byHops.has(h)) byHops.set(h, [])
    byHops.get(h)!.push(q)
  }
  const per = Math.ceil(n / byHops.size)
  return [...byHops.keys()].sort().flatMap((h) => byHops.get(h)!.slice(0, per))
}

const report: Record<string, unknown> = { config: values.config, split, groupSize: G, seeds: {} }
for (const seed of seeds) {
  const outDir = mkdtempSync(join(tmpdir(), 'regime-probe-'))
  const t0 = Date.now()
  try {
    const config = { ...loadTrainConfig(values.config), seed, outDir, steps: 0 }
    const trainer = await Trainer.create(config)
    await trainer.warmStart()
    const warmSeconds = (Date.now() - t0) / 1000
    // The questions the warm start demonstrated (the trainer's own draw), to tell recall from generalisation.
    const ws = config.warmStart
    const demonstrated = new Set(
      new Random(seed).fork('warm-start').shuffle(trainer.task.train).slice(0, Math.max(1, Math.round(ws.questionShare * trainer.task.train.length))).map((q) => q.id),
    )
    const questions = sample(trainer.task[split], nQuestions, new Random(seed).fork('regime-probe'))
    const rolloutOptions = parseRolloutOptions(config.rollout as never)
    const reward = parseRewardConfig(config.reward as never)
    const requests = questions.flatMap((q) => Array.from({ length: G }, () => ({ question: q.question })))
    const { rollouts } = await runRollouts(trainer.policy, trainer.task.retriever, requests, { ...rolloutOptions, seed: seed * 7919 + 1 })
    const cells = new Map<string, Cell>()
    const add = (key: string, f: (c: Cell) => void) => {
      if (!cells.has(key)) cells.set(key, cell())
      f(cells.get(key)!)
    }
    questions.forEach((q, j) => {
      const group = rollouts.slice(j * G, (j + 1) * G)
      const parts = group.map((r) => computeReward(r, q.goldAnswers, reward))
      const ok = parts.map((p) => p.em === 1)
      const wins = ok.filter(Boolean).length
      const totals = parts.map((p) => p.total)
      const zeroVar = totals.every((t) => Math.abs(t - totals[0]) < 1e-9)
      const contrast =
        wins > 0 && wins < G && group.every((r, i) => !ok[i] || searchedBridges(r, q)) && group.some((r, i) => !ok[i] && !searchedBridges(r, q))
      for (const key of [`${q.hops}-hop`, 'all', demonstrated.has(q.id) ? 'demonstrated' : 'not-demonstrated']) {
        add(key, (c) => {
          c.groups++
          c.rollouts += G
          c.successes += wins
          if (wins > 0) c.groupsWithSuccess++
          if (zeroVar) c.zeroVariance++
          if (wins === 0) c.allFail++
          if (wins > 0 && wins < G) c.mixed++
          if (contrast) c.mixedBridgeContrast++
          group.forEach((r, i) => {
            if (ok[i]) c.searchCallsSuccess += r.searchCalls
            else {
              c.searchCallsFailure += r.searchCalls
              c.failures++
            }
          })
        })
      }
    })
    const round = (x: number) => Math.round(x * 1000) / 1000
    const summary = Object.fromEntries(
      [...cells.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, c]) => [
        k,
        {
          groups: c.groups,
          success: round(c.successes / c.rollouts),
          passAtG: round(c.groupsWithSuccess / c.groups),
          zeroVarianceShare: round(c.zeroVariance / c.groups),
          allFailShare: round(c.allFail / c.groups),
          mixedGroups: c.mixed,
          mixedWithBridgeContrast: c.mixedBridgeContrast,
          searchCallsSuccess: c.successes ? round(c.searchCallsSuccess / c.successes) : null,
          searchCallsFailure: c.failures ? round(c.searchCallsFailure / c.failures) : null,
        },
      ]),
    )
    ;(report.seeds as Record<string, unknown>)[seed] = { warmSeconds, totalSeconds: (Date.now() - t0) / 1000, train: trainer.task.train.length, summary }
    console.log(JSON.stringify({ seed, warmSeconds, totalSeconds: (Date.now() - t0) / 1000, summary }, null, 1))
  } finally {
    rmSync(outDir, { recursive: true, force: true })
  }
}
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n')
