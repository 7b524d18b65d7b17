// The RL loop of a search agent: sample questions, roll out G times each (a share with HiExp experiences when on),
// reward, group advantages, policy updates (GRPO / GSPO through the native loss), validation, checkpoints and a
// metrics line per step. Resumes from its outDir's last committed checkpoint (run_dir.ts: the commit protocol).
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { generateDemonstrations } from '../agent/demonstrations.js'
import { evaluateRollouts, type Evaluation } from '../agent/evaluate.js'
import { promptText } from '../agent/chat.js'
import { computeReward, parseRewardConfig, type ResolvedRewardConfig, type RewardParts } from '../agent/reward.js'
import { experienceFree, parseRolloutOptions, runRollouts, type ResolvedRolloutOptions, type Rollout, type RolloutTiming } from '../agent/rollout.js'
import { mean, std } from '../util/stats.js'
import { Random } from '../util/random.js'
import type { QaExample } from '../env/types.js'
import { Policy, type OptimizerOptions, type RlBatch, type TrainStats } from '../model/policy.js'
import { fileLength } from '../util/append_only.js'
import { faultPoint } from '../util/fault.js'
import { MetricsLog, type HekMetrics, type MetricsSink, type RlMetrics, type ValidationMetrics } from '../report/metrics.js'
import { progress, type Progress } from '../report/progress.js'
import { TensorBoardWriter } from '../report/tensorboard.js'
import { plotTraining } from '../report/training_plot.js'
import { groupAdvantages } from '../ops/rl/advantages.js'
import { effectiveConfig, parseTrainConfig, type ResolvedTrainConfig, type TrainConfig } from './config.js'
import { applyRewardFunction, type RewardFunction } from './hooks.js'
import { checkpointDir, initialPolicy, loadTask, type Task } from './task.js'
import {
  claimRunDir, commitCheckpoint, COMMITTED_HEK_FILE, METRICS_FILE, recoverCheckpoint, rollBackToCommit, trajectoriesFile,
  type RunCommit,
} from './run_dir.js'
import type { PolicyLossOptions } from '../ops/rl/types.js'
import type { Retriever } from '../search/types.js'
import { readDistEnv } from '../distributed/env.js'
import { getProcessGroup, initProcessGroup, shard, type ProcessGroup } from '../distributed/group.js'
import { buildHek, collectTrajectories, distillerFor, guidedRequest, HekExperienceSource, type ExperienceSource } from '../experience/source.js'
import { internalization } from '../experience/options.js'
import { precisionStats, retrievalPrecision } from '../experience/precision.js'
import { combinedTarget, frozenReference } from './reference.js'
import { HierarchicalExperience } from '../experience/hek.js'
import { lockRunDir } from './run_lock.js'
import { writeHekPictures } from '../experience/show.js'
import { recordFromRollout, TrajectoryStore } from '../experience/store.js'
import { groupTrajectories, type TrajectoryRecord } from '../experience/types.js'
import { parseWorldOptions, type WorldOptions } from '../env/world_options.js'
import { phrasingTable } from '../env/world_phrasings.js'
import { planAdvisedWarmStart } from './warm_start.js'

export type { ExperienceSource } from '../experience/source.js'

interface RunState {
  step: number
  warmStartDone: boolean
  /** The step of the last dynamic-HEK refresh. */
  lastRefreshStep: number
  /** Dynamic sampling: train questions drawn so far. */
  questionCursor: number
}

/** One group of G rollouts of a question, as drawn, with its rewards. */
interface DrawnGroup {
  question: QaExample
  rollouts: Rollout[]
  parts: RewardParts[]
  rewards: number[]
}

export interface TrainerCreateOptions {
  /** Continue the run in outDir although its config.json differs (the changes are printed; config.json is rewritten). */
  resumeWithNewConfig?: boolean
  /** A reward of your own (verl's custom reward function): it replaces the built-in reward's total. */
  reward?: RewardFunction
  /** The retriever behind the search tool, instead of the one the task block configures (BM25 or task.retrieverUrl). */
  retriever?: Retriever
}

export interface RunOptions {
  /** No progress bar and no console lines. */
  quiet?: boolean
  /** Called with each RL step's metrics row, as written to metrics.jsonl (awaited). */
  onStep?: (row: RlMetrics) => void | Promise<void>
}

export interface RunResult {
  validation: ValidationMetrics[]
  /** training.svg / training.png in outDir (main rank). */
  plot?: { svg: string; png: string }
}

/** The run's name in plots and reports: 'hiexp-grpo' for HiExp over GRPO, else the algorithm. */
export function methodName(config: Pick<ResolvedTrainConfig, 'algorithm' | 'experience'>): string {
  return config.experience.enabled ? `hiexp-${config.algorithm}` : config.algorithm
}

/** A validation row as one line: EM, and EM with the HEK (the method's own number) for HiExp runs. */
export function validationSummary(v: Pick<ValidationMetrics, 'em' | 'f1' | 'emWithExperience' | 'f1WithExperience'>): string {
  const f1 = v.f1WithExperience !== undefined ? ` F1 with HEK ${v.f1WithExperience.toFixed(3)}` : ''
  const hek = v.emWithExperience !== undefined ? ` · EM with HEK ${v.emWithExperience.toFixed(3)}${f1}` : ''
  return `EM ${v.em.toFixed(3)} F1 ${v.f1.toFixed(3)}${hek}`
}

export class Trainer {
  /** HiExp's experiences for guided rollouts; without it every rollout is experience-free (plain GRPO / GSPO). */
  experience?: ExperienceSource
  private readonly rollout: ResolvedRolloutOptions
  private readonly dynamicSampling: ResolvedTrainConfig['rollout']['dynamicSampling']
  private readonly reward: ResolvedRewardConfig
  private readonly metrics: MetricsLog
  private order: QaExample[] = []
  private passOf = -1
  /** Every rollout of the run, one JSON line each (the input of experience distillation). */
  readonly trajectories: TrajectoryStore
  /** RL trajectories since the HEK was last rebuilt (dynamic HEK). */
  private sinceRefresh: TrajectoryRecord[] = []
  /** The HEK was built or refreshed since the last checkpoint: run() commits it with the next one. */
  private hekChanged = false
  /** The metrics row of the HEK built by prepareExperience (run() prints it). */
  private builtHek: HekMetrics | undefined

  private constructor(
    readonly config: ResolvedTrainConfig,
    readonly task: Task,
    public policy: Policy,
    private state: RunState,
    /** Data-parallel group (WORLD_SIZE > 1): questions are sharded by rank, gradients all-reduced, rank 0 writes. */
    private readonly group: ProcessGroup | undefined,
    /** The checkpoint this run resumed from (its HEK is the run's HEK). */
    private readonly resumedFrom: RunCommit | undefined,
    private readonly rewardFunction: RewardFunction | undefined,
  ) {
    const { dynamicSampling, ...rollout } = config.rollout
    this.rollout = parseRolloutOptions(rollout as never)
    this.dynamicSampling = dynamicSampling
    this.reward = parseRewardConfig(config.reward as never)
    const sinks: MetricsSink[] = this.isMain && config.logger.includes('tensorboard') ? [new TensorBoardWriter(join(config.outDir, 'tensorboard'))] : []
    this.metrics = new MetricsLog(join(config.outDir, METRICS_FILE), sinks)
    this.trajectories = new TrajectoryStore(join(config.outDir, trajectoriesFile(this.rank)))
  }

  private get isMain(): boolean {
    return !this.group || this.group.isMain
  }

  private get rank(): number {
    return this.group?.rank ?? 0
  }

  /**
   * Builds the run, or resumes it from outDir's last committed checkpoint: an interrupted checkpoint swap is finished
   * or discarded, and metrics and trajectories are cut back to what that checkpoint committed. outDir belongs to one
   * run: a different configuration is refused unless `resumeWithNewConfig`.
   */
  static async create(config: TrainConfig | ResolvedTrainConfig, options: TrainerCreateOptions = {}): Promise<Trainer> {
    const c = parseTrainConfig(config)
    // Data parallel (hiexp launch, torchrun's variables): rank 0 owns the folder and tells the others what it found.
    if (c.rollout.dynamicSampling && readDistEnv().worldSize > 1) {
      throw new Error('train config: rollout.dynamicSampling runs on one process only (WORLD_SIZE > 1 here): ranks would draw different numbers of batches')
    }
    const group = readDistEnv().worldSize > 1 ? (getProcessGroup() ?? (await initProcessGroup())) : undefined
    const isMain = !group || group.isMain
    let commit: RunCommit | undefined
    if (isMain) {
      lockRunDir(c.outDir)
      claimRunDir(c.outDir, effectiveConfig(c), { resumeWithNewConfig: options.resumeWithNewConfig === true })
      commit = recoverCheckpoint(c.outDir)
    }
    if (group) commit = (await group.broadcastJson(commit ?? null)) ?? undefined
    rollBackToCommit(c.outDir, commit, group?.rank ?? 0, isMain)
    const task = await loadTask(c, options.retriever ? { retriever: options.retriever } : {})
    const policy = commit
      ? await Policy.loadCheckpoint(checkpointDir(c.outDir), { device: c.policy.device, dtype: c.policy.dtype })
      : await initialPolicy(c, task)
    if (group) await policy.attachProcessGroup(group)
    const state = commit
      ? { step: commit.step, warmStartDone: commit.warmStartDone, lastRefreshStep: commit.lastRefreshStep, questionCursor: commit.questionCursor ?? 0 }
      : { step: 0, warmStartDone: false, lastRefreshStep: 0, questionCursor: 0 }
    const trainer = new Trainer(c, task, policy, state, group, commit, options.reward)
    if (isMain && c.groupSize === 1 && c.steps > 0 && ['grpo', 'drgrpo', 'rloo'].includes(c.advantage.estimator)) {
      console.warn(
        `hiexp: groupSize 1 with the '${c.advantage.estimator}' advantage: each group is one rollout, so there is no group baseline ` +
          `(each advantage is ${c.advantage.zeroSingletons ? '0: nothing is learned' : 'the raw reward'}); use groupSize ≥ 2`,
      )
    }
    // The rollouts since the last refresh are the next refresh's input, as they were before the interruption.
    if (commit && c.experience.enabled && c.experience.refreshEvery > 0) {
      trainer.sinceRefresh = trainer.trajectories.read().filter((r) => r.step > state.lastRefreshStep)
    }
    return trainer
  }

  get step(): number {
    return this.state.step
  }

  private lossOptions(): PolicyLossOptions {
    const { klCoef, klEstimator, ...rest } = this.config.loss
    return { algorithm: this.config.algorithm, ...rest, ...(klCoef > 0 ? { klCoef, klEstimator } : {}) }
  }

  /** Supervised warm start on oracle demonstrations of train questions (through the same rollout loop). */
  async warmStart(bar?: Progress): Promise<void> {
    const w = this.config.warmStart
    if (this.state.warmStartDone || w.steps === 0) return
    const rng = new Random(this.config.seed).fork('warm-start')
    const questions = rng.shuffle(this.task.train).slice(0, Math.max(1, Math.round(w.questionShare * this.task.train.length)))
    const demos = await this.demonstrations(questions, rng)
    const usable = demos.filter((d) => d.finish === 'answer')
    if (usable.length === 0) throw new Error(`warm start: no demonstration reached an answer: ${budgetCause(demos, this.rollout)}`)
    this.policy.configureTraining({ lr: w.lr, warmupSteps: Math.min(10, w.steps), maxGradNorm: 1 })
    const pick = this.group ? rng.fork(`rank-${this.group.rank}`) : rng
    for (let s = 0; s < w.steps; s++) {
      const batch = Array.from({ length: w.batchSize }, () => usable[pick.int(0, usable.length - 1)])
      const stats = await this.policy.sftStep({ sequences: batch.map((d) => d.tokens), masks: batch.map((d) => d.mask) })
      if (this.isMain) this.metrics.append({ phase: 'warm-start', step: s + 1, loss: stats.loss, gradNorm: stats.gradNorm, lr: stats.lr })
      bar?.update(s + 1, `loss ${stats.loss.toFixed(3)}`)
    }
    this.policy.configureTraining(this.config.optimizer as OptimizerOptions)
    this.state.warmStartDone = true
  }

  /**
   * The warm start's demonstrations. In the bottleneck world (task.world.phrasings) the advice-reading plan
   * (warm_start.ts); otherwise the first experienceShare of the (shuffled) questions carries its retrieved
   * experiences at both injection points (the prompt slot and the search-time case), the rest an empty slot; of
   * those, a flawedShare stops its chain early. (Forks only when used: they would shift the batch sampling after.)
   */
  private async demonstrations(questions: QaExample[], rng: Random): Promise<Rollout[]> {
    const w = this.config.warmStart
    const tokenizer = this.policy.tokenizer
    const phrasings = this.config.task.kind === 'world' ? parseWorldOptions(this.config.task.world as WorldOptions).phrasings : undefined
    if (phrasings) {
      const repeated = questions.flatMap((q) => Array.from({ length: w.variants }, () => q))
      const plan = planAdvisedWarmStart(repeated, phrasingTable(phrasings), w.adviceShare, rng.fork('advice'))
      return generateDemonstrations(plan.examples, this.task.retriever, tokenizer, this.rollout, { experiences: plan.experiences, searchExperiences: plan.searchLines })
    }
    const guided = Math.round(w.experienceShare * questions.length)
    let experiences: string[] | undefined
    let searchExperiences: (((query: string) => Promise<string>) | undefined)[] | undefined
    if (guided > 0) {
      const source = this.experienceSource(await HierarchicalExperience.load(this.config.experience.hekFile!, this.hekLoadOptions()))
      experiences = await Promise.all(questions.map((q, i) => (i < guided ? source.render(q) : '')))
      searchExperiences = questions.map((q, i) => (i < guided ? (query: string) => source.forSearch(query, q) : undefined))
    }
    let stopAfter: (number | undefined)[] | undefined
    if (w.flawedShare > 0) {
      const flawed = rng.fork('flawed')
      stopAfter = questions.map((q, i) => {
        const hops = q.relations?.length ?? 0
        return i >= guided && hops > 0 && flawed.chance(w.flawedShare) ? flawed.int(0, hops - 1) : undefined
      })
    }
    return generateDemonstrations(questions, this.task.retriever, tokenizer, this.rollout, {
      ...(experiences ? { experiences, searchExperiences } : {}),
      ...(stopAfter ? { stopAfter } : {}),
    })
  }

  /** This step's questions: the train split in a seeded order, reshuffled each pass over it. */
  private questionsFor(step: number): QaExample[] {
    const Q = this.config.questionsPerStep
    const perPass = Math.max(1, Math.floor(this.task.train.length / Q))
    const pass = Math.floor(step / perPass)
    if (this.passOf !== pass) {
      this.order = new Random(this.config.seed).fork(`pass-${pass}`).shuffle(this.task.train)
      this.passOf = pass
    }
    const at = (step % perPass) * Q
    return this.order.slice(at, at + Q)
  }

  /** Dynamic sampling's draws: the next `count` train questions of the same seeded passes, from the run's cursor. */
  private drawQuestions(count: number): QaExample[] {
    const N = this.task.train.length
    const out: QaExample[] = []
    for (let k = 0; k < count; k++) {
      const i = this.state.questionCursor++
      const pass = Math.floor(i / N)
      if (this.passOf !== pass) {
        this.order = new Random(this.config.seed).fork(`pass-${pass}`).shuffle(this.task.train)
        this.passOf = pass
      }
      out.push(this.order[i % N])
    }
    return out
  }

  /** Rolls out G times each question (the first `guided` of each group with the HEK), rewards, and records them. */
  private async drawGroups(questions: QaExample[], guided: number, draw: number): Promise<{ groups: DrawnGroup[]; timing: RolloutTiming }> {
    const c = this.config
    const G = c.groupSize
    // Guided rollouts carry the HEK at both points (prompt and search calls); the others are experience-free.
    const withHek = guided > 0 ? await Promise.all(questions.map((q) => guidedRequest(q, this.experience))) : []
    const requests = questions.flatMap((q, j) => Array.from({ length: G }, (_, k) => (k < guided ? withHek[j] : { question: q.question })))
    const { rollouts, timing } = await runRollouts(this.policy, this.task.retriever, requests, {
      ...this.rollout,
      seed: c.seed * 100_003 + this.state.step * 17 + draw * 1_000_003,
    })
    const parts = await this.score(rollouts, (i) => questions[Math.floor(i / G)])
    const records = rollouts.map((r, i) =>
      recordFromRollout(r, { example: questions[Math.floor(i / G)], reward: { ...parts[i] }, step: this.state.step + 1, guided: i % G < guided }),
    )
    this.trajectories.append(records)
    faultPoint('step:trajectories-written')
    this.sinceRefresh.push(...records)
    const groups = questions.map((question, j) => ({
      question,
      rollouts: rollouts.slice(j * G, (j + 1) * G),
      parts: parts.slice(j * G, (j + 1) * G),
      rewards: parts.slice(j * G, (j + 1) * G).map((p) => p.total),
    }))
    return { groups, timing }
  }

  /** The reward of each rollout: the reward block's, or the user's reward function on top of it. */
  private async score(rollouts: readonly Rollout[], questionOf: (i: number) => QaExample): Promise<RewardParts[]> {
    return Promise.all(
      rollouts.map((r, i) => {
        const q = questionOf(i)
        const builtIn = computeReward(r, q.goldAnswers, this.reward)
        return this.rewardFunction ? applyRewardFunction(this.rewardFunction, r, q, builtIn) : builtIn
      }),
    )
  }

  /** The experience-free prompt of a question, as runRollouts encodes it. */
  private promptIds(q: QaExample): number[] {
    return this.policy.tokenizer.encode(promptText(this.rollout.template, { question: q.question }, this.rollout.chat, this.policy.tokenizer))
  }

  /** One RL step; returns (and logs) its metrics. */
  async rlStep(): Promise<RlMetrics> {
    const c = this.config
    const G = c.groupSize
    const t0 = performance.now()
    const guided = this.experience && c.experience.enabled ? Math.round(c.experience.guidedFraction * G) : 0
    // Dynamic sampling (DAPO) draws batches until questionsPerStep groups have reward variance (or maxDraws); without
    // it one batch: the step's questions (data parallel: this rank's share, whole groups).
    const draws = this.dynamicSampling?.maxDraws ?? 1
    const timing: RolloutTiming = { generateMs: 0, retrieveMs: 0, totalMs: 0, generateCalls: 0, retrieveCalls: 0 }
    const drawn: DrawnGroup[] = []
    let kept: DrawnGroup[] = []
    let drawsMade = 0
    for (let d = 0; d < draws; d++) {
      const questions = this.dynamicSampling
        ? this.drawQuestions(c.questionsPerStep)
        : this.group
          ? shard(this.questionsFor(this.state.step), this.group)
          : this.questionsFor(this.state.step)
      const batch = await this.drawGroups(questions, guided, d)
      drawsMade++
      for (const k of Object.keys(timing) as (keyof RolloutTiming)[]) timing[k] += batch.timing[k]
      drawn.push(...batch.groups)
      kept.push(...(this.dynamicSampling ? batch.groups.filter((g) => std(g.rewards) > 1e-9) : batch.groups))
      if (kept.length >= c.questionsPerStep) break
    }
    if (this.dynamicSampling) kept = kept.slice(0, c.questionsPerStep)
    const t1 = performance.now()
    const questions = kept.map((g) => g.question)
    const rollouts = kept.flatMap((g) => g.rollouts)
    const parts = kept.flatMap((g) => g.parts)
    const rewards = Float32Array.from(kept.flatMap((g) => g.rewards))
    const advantages =
      rewards.length > 0 ? groupAdvantages(rewards, { groupSize: G, estimator: c.advantage.estimator, zeroSingletons: c.advantage.zeroSingletons }) : new Float32Array(0)

    // The update batch: every rollout as sampled, its prompt and tool responses (experiences included) in the context
    // and masked out (the paper: the ratio is taken under the sampling context). hiexp's internalisation variant
    // scores guided rollouts as an experience-free policy sees them (no prompt experience, no search-time line), with a
    // KL towards their sampling distribution besides the one to the frozen reference.
    const isGuided = rollouts.map((_, i) => i % G < guided)
    const inner = internalization(c.experience)
    const rows = rollouts.map((r, i) => (isGuided[i] && inner.align ? experienceFree(r, this.promptIds(questions[Math.floor(i / G)])) : r))
    const regularize = guided > 0 && inner.klCoef > 0
    const stats = rows.length > 0 ? await this.update(rows, advantages, regularize ? inner.klCoef : 0) : []
    const t2 = performance.now()
    this.state.step++

    const groupStd = questions.map((_, g) => std(Array.from(rewards.subarray(g * G, (g + 1) * G))))
    const drawnStd = drawn.map((g) => std(g.rewards))
    const queries = rollouts.flatMap((r) => r.queries.length)
    const repeated = rollouts.reduce((s, _r, i) => s + parts[i].repeatedQueries, 0)
    const row: RlMetrics = {
      phase: 'rl',
      step: this.state.step,
      rewardMean: mean(Array.from(rewards)),
      rewardStd: std(Array.from(rewards)),
      rewardGroupStd: mean(groupStd),
      // Groups whose rewards are all equal give no gradient (every advantage is 0); with dynamic sampling, of those drawn.
      zeroVarianceGroupShare: mean(drawnStd.map((s) => (s < 1e-9 ? 1 : 0))),
      advantageStd: std(Array.from(advantages)),
      em: mean(parts.map((p) => p.em)),
      f1: mean(parts.map((p) => p.f1)),
      cem: mean(parts.map((p) => p.cem)),
      format: mean(parts.map((p) => p.format)),
      loss: mean(stats.map((s) => s.loss)),
      gradNorm: mean(stats.map((s) => s.gradNorm)),
      clipFraction: mean(stats.map((s) => s.clipFraction)),
      approxKl: mean(stats.map((s) => s.approxKl)),
      kl: mean(stats.map((s) => s.kl ?? 0)),
      entropy: mean(stats.map((s) => s.entropy)),
      lr: stats.at(-1)?.lr ?? 0,
      searchCalls: mean(rollouts.map((r) => r.searchCalls)),
      repeatedQueryShare: queries.reduce((a, b) => a + b, 0) ? repeated / queries.reduce((a, b) => a + b, 0) : 0,
      responseTokens: mean(rollouts.map((r) => r.responseTokens)),
      malformed: mean(parts.map((p) => p.malformed)),
      rolloutSeconds: (t1 - t0) / 1000,
      generateSeconds: timing.generateMs / 1000,
      retrieveSeconds: timing.retrieveMs / 1000,
      trainSeconds: (t2 - t1) / 1000,
      stepSeconds: (t2 - t0) / 1000,
    }
    if (this.dynamicSampling) {
      row.draws = drawsMade
      row.groupsDrawn = drawn.length
      row.groupsDropped = drawn.filter((g) => std(g.rewards) <= 1e-9).length
      row.effectiveBatch = rollouts.length
      row.rewardMeanDrawn = mean(drawn.flatMap((g) => g.rewards))
    }
    if (guided > 0) {
      row.searchExperienceShare = searchExperienceShare(rollouts.filter((_, i) => isGuided[i]))
      row.guidedRewardMean = mean(Array.from(rewards).filter((_, i) => isGuided[i]))
      row.unguidedRewardMean = mean(Array.from(rewards).filter((_, i) => !isGuided[i]))
    }
    if (this.group) {
      const { phase, ...numbers } = row
      Object.assign(row, await this.group.reduceMetrics(numbers as Record<string, number>, 'mean'), { phase })
    }
    const written = this.isMain ? this.metrics.append(row) : row
    faultPoint('step:metrics-written')
    return written
  }

  /** PPO epochs over mini-batches of the step's rollouts. */
  private async update(
    rows: readonly Pick<Rollout, 'tokens' | 'mask' | 'logprobs'>[],
    advantages: Float32Array,
    /** Internalisation's KL coefficient towards the sampling log-probs (0: the loss's own KL to the frozen reference). */
    regularizeCoef: number,
  ): Promise<TrainStats[]> {
    const c = this.config
    const n = rows.length
    const size = Math.min(n, c.miniBatchSize ?? n)
    const rng = new Random(c.seed).fork(`update-${this.state.step}`)
    const loss = this.lossOptions()
    const regularize = regularizeCoef > 0
    // The paper's β to the frozen reference stays: both KLs as one k2 target (reference.ts); without β, λ alone as before.
    const beta = regularize ? (loss.klCoef ?? 0) : 0
    if (regularize) Object.assign(loss, beta > 0 ? { klCoef: beta + regularizeCoef, klEstimator: 'k2' } : { klCoef: regularizeCoef, klEstimator: 'k3' })
    const reference = beta > 0 ? (this.reference ??= await frozenReference(this.policy, join(c.outDir, `reference-${this.rank}`), { device: c.policy.device, dtype: c.policy.dtype })) : undefined
    const out: TrainStats[] = []
    for (let epoch = 0; epoch < c.ppoEpochs; epoch++) {
      const order = epoch === 0 && size === n ? [...Array(n).keys()] : rng.shuffle([...Array(n).keys()])
      for (let at = 0; at < n; at += size) {
        const idx = order.slice(at, at + size)
        // Sampling log-probs are the PPO "old" policy, under the context the rollout was sampled in. For the
        // internalisation variant's regulariser they are also the KL target: on guided rollouts the
        // experience-conditioned distribution π_old(·|q,e); on the others the KL to π_old(·|q) is zero at the first epoch.
        // Otherwise loss.klCoef (default 1e-3, the paper's β) takes the KL to the frozen reference policy.
        const sequences = idx.map((i) => rows[i].tokens)
        const refScores = reference ? (await reference.score(sequences)).logprobs : undefined
        const batch: RlBatch = {
          sequences,
          masks: idx.map((i) => rows[i].mask),
          advantages: Float32Array.from(idx.map((i) => advantages[i])),
          oldLogprobs: idx.map((i) => rows[i].logprobs),
          ...(regularize ? { refLogprobs: idx.map((i, k) => (refScores ? combinedTarget(refScores[k], rows[i].logprobs, beta, regularizeCoef) : rows[i].logprobs)) } : {}),
        }
        out.push(await this.policy.trainStep(batch, loss))
      }
    }
    return out
  }

  /**
   * Greedy rollouts on `examples`: EM, F1, CEM, search calls and tokens, by hop count. `withExperience`: with the
   * run's HEK at both injection points, by the same rules as in training (HiExp's own number); `source`: with another
   * experience source (a control or a probe), by the same rules.
   */
  async evaluate(
    examples: readonly QaExample[],
    options: { withExperience?: boolean; source?: ExperienceSource; retriever?: Retriever } = {},
  ): Promise<Evaluation> {
    return (await this.evaluateRollouts(examples, options)).evaluation
  }

  /** evaluate(), with the rollouts it scored (for measures of what was injected). */
  async evaluateRollouts(
    examples: readonly QaExample[],
    { withExperience = false, source, retriever = this.task.retriever }: { withExperience?: boolean; source?: ExperienceSource; retriever?: Retriever } = {},
  ): Promise<{ evaluation: Evaluation; rollouts: Rollout[] }> {
    const from = source ?? (withExperience ? this.experience : undefined)
    if (withExperience && !from) throw new Error('evaluate: withExperience needs the run\'s HEK (experience.enabled and prepareExperience())')
    const requests = await Promise.all(examples.map((q) => guidedRequest(q, from)))
    const { rollouts } = await runRollouts(this.policy, retriever, requests, { ...this.rollout, temperature: 0 })
    return { evaluation: evaluateRollouts(rollouts, examples), rollouts }
  }

  /**
   * pass@k of sampled rollouts (the run's temperature), with an experience source or none: the share of `examples`
   * with at least one of k rollouts right (EM), and the mean EM of the samples.
   */
  async passAtK(examples: readonly QaExample[], k: number, source?: ExperienceSource): Promise<{ passAtK: number; sampledEm: number }> {
    const requests = await Promise.all(examples.map((q) => guidedRequest(q, source)))
    const { rollouts } = await runRollouts(this.policy, this.task.retriever, requests.flatMap((r) => Array.from({ length: k }, () => r)), {
      ...this.rollout,
      seed: 424_242,
    })
    const em = rollouts.map((r, i) => evaluateRollouts([r], [examples[Math.floor(i / k)]]).em)
    const pass = examples.map((_, j) => (em.slice(j * k, (j + 1) * k).some((x) => x > 0) ? 1 : 0))
    return { passAtK: mean(pass), sampledEm: mean(em) }
  }

  /** A HiExp run evaluated with its HEK (the method's number) and without it; other runs without only. */
  async evaluateRun(examples: readonly QaExample[]): Promise<{ withoutHek: Evaluation; withHek?: Evaluation }> {
    await this.prepareExperience()
    const withoutHek = await this.evaluate(examples)
    const hiexp = this.experience !== undefined && this.config.experience.enabled
    return { withoutHek, ...(hiexp ? { withHek: await this.evaluate(examples, { withExperience: true }) } : {}) }
  }

  private validationSet(): QaExample[] {
    return this.task.validation.slice(0, this.config.validation.questions)
  }

  async validate(): Promise<ValidationMetrics | undefined> {
    if (!this.isMain) return undefined
    const plain = await this.evaluate(this.validationSet())
    const row: ValidationMetrics = {
      phase: 'validation',
      step: this.state.step,
      em: plain.em,
      f1: plain.f1,
      cem: plain.cem,
      searchCalls: plain.searchCalls,
      responseTokens: plain.responseTokens,
      repeatedQueryShare: plain.repeatedQueryShare,
      emByHops: Object.fromEntries(Object.entries(plain.byHops).map(([h, s]) => [h, s.em])),
    }
    if (this.experience && this.config.experience.enabled && this.config.experience.evaluateWithExperience) {
      const guided = await this.evaluate(this.validationSet(), { withExperience: true })
      row.emWithExperience = guided.em
      row.f1WithExperience = guided.f1
      row.cemWithExperience = guided.cem
    }
    return this.metrics.append(row)
  }

  /**
   * Commits the run at this step: the policy (weights, optimiser, RNG), the HEK, the run state and the length of every
   * append-only file, as one checkpoint swapped in by renames (run_dir.ts). A kill anywhere in it resumes either from
   * this checkpoint or from the previous one, never from a mix.
   */
  async checkpoint(): Promise<void> {
    const outDir = this.config.outDir
    // Each rank's trajectory file length, gathered on every rank (rank 0 records them all).
    const lengths = new Float64Array(this.group?.worldSize ?? 1)
    lengths[this.rank] = fileLength(this.trajectories.path)
    const trajectoryBytes = this.group ? Array.from((await this.group.allReduce(lengths, 'sum')) as Float64Array) : Array.from(lengths)
    if (!this.isMain) return void (await this.policy.saveCheckpoint(`${checkpointDir(outDir)}.new`))
    const hek = this.experience instanceof HekExperienceSource ? JSON.stringify(this.experience.hek.toJSON()) : undefined
    const commit: RunCommit = {
      format: 1,
      step: this.state.step,
      warmStartDone: this.state.warmStartDone,
      metricsBytes: fileLength(this.metrics.path),
      trajectoryBytes,
      lastRefreshStep: this.state.lastRefreshStep,
      hek: hek !== undefined,
      ...(this.dynamicSampling ? { questionCursor: this.state.questionCursor } : {}),
    }
    await commitCheckpoint(outDir, (dir) => this.policy.saveCheckpoint(dir), commit, hek)
    this.hekChanged = false
  }

  /** The internalisation variant's frozen reference (reference.ts), loaded or frozen at its first update. */
  private reference?: Policy

  /** The run's published HEK (a copy of the committed one, with its pictures beside it); experience.hekFile is input only. */
  private hekPath(): string {
    return join(this.config.outDir, 'hek.json')
  }

  private publishHek(hek: HierarchicalExperience): void {
    hek.save(this.hekPath())
    writeHekPictures(hek, this.hekPath().replace(/\.json$/, ''))
    this.hekChanged = true
  }

  /**
   * HiExp's knowledge base: the one committed with the checkpoint being resumed, else experience.hekFile, else built
   * from the current policy's rollouts on sampled train questions, contrasted and distilled, then clustered.
   */
  async prepareExperience(bar?: Progress): Promise<HierarchicalExperience | undefined> {
    const e = this.config.experience
    if (!e.enabled || this.experience) return undefined
    const committed = this.resumedFrom?.hek ? join(checkpointDir(this.config.outDir), COMMITTED_HEK_FILE) : undefined
    let hek: HierarchicalExperience
    if (!this.isMain) {
      // Rank 0 loads or builds it and sends it to every rank.
      hek = HierarchicalExperience.fromJSON(await this.group!.broadcastJson<unknown>(null), 'the HEK sent by rank 0', this.hekLoadOptions())
    } else if (committed) {
      hek = HierarchicalExperience.load(committed, this.hekLoadOptions())
    } else if (e.hekFile) {
      hek = HierarchicalExperience.load(e.hekFile, this.hekLoadOptions())
    } else {
      const t0 = performance.now()
      const questions = new Random(this.config.seed).fork('hek').shuffle(this.task.train).slice(0, e.buildQuestions)
      const records = await collectTrajectories(this.policy, this.task.retriever, questions, e.buildGroupSize, this.rollout, this.reward, this.trajectories, this.state.step, {
        ...(bar && { onTurn: (finished: number) => bar.update(finished, 'rollouts finished') }),
        ...(this.rewardFunction && { score: (rs: readonly Rollout[], qOf: (i: number) => QaExample) => this.score(rs, qOf) }),
      })
      bar?.update(records.length, 'distilling and clustering')
      hek = await buildHek(records, distillerFor(this.config, this.policy), { thresholds: e.thresholds, fitTexts: this.task.fitTexts })
      hek = hek.withBuildStats(precisionStats(await retrievalPrecision(hek, this.task.train, { minSimilarity: e.searchMinSimilarity })))
      this.publishHek(hek)
      const row: HekMetrics = { phase: 'hek', step: this.state.step, experiences: hek.experiences().length, trajectories: records.length, seconds: (performance.now() - t0) / 1000 }
      this.metrics.append(row)
      this.builtHek = row
    }
    if (this.isMain && this.group) await this.group.broadcastJson(hek.toJSON())
    this.experience = this.experienceSource(hek)
    return hek
  }

  /** A loaded HEK's embedding endpoint is the run config's (experience.embeddingEndpoint), never the file's. */
  hekLoadOptions(): { embeddingEndpoint?: { baseURL: string; apiKey?: string } } {
    const endpoint = this.config.experience.embeddingEndpoint
    return endpoint ? { embeddingEndpoint: endpoint } : {}
  }

  /** A HEK served by this run's retrieval options (also for evaluating another run's policy with it). */
  experienceSource(hek: HierarchicalExperience): HekExperienceSource {
    const tokenizer = this.policy.tokenizer
    const e = this.config.experience
    return new HekExperienceSource(hek, {
      promptTopK: e.promptTopK,
      promptMinSimilarity: e.promptMinSimilarity,
      budget: e.tokenBudget,
      searchInjection: e.searchInjection,
      searchMinSimilarity: e.searchMinSimilarity,
      countTokens: (text) => tokenizer.encode(text).length,
    })
  }

  /** Dynamic HEK (beyond the paper): distil the rollouts since the last rebuild into the HEK and swap it in. */
  private async refreshExperience(): Promise<void> {
    const source = this.experience
    if (!(source instanceof HekExperienceSource)) return
    if (this.group) {
      // Rank 0 distils its own shard's rollouts and sends the rebuilt HEK to every rank.
      let next = source.hek
      if (this.isMain && this.sinceRefresh.length > 0) {
        const fresh = await distillerFor(this.config, this.policy).distill(groupTrajectories(this.sinceRefresh))
        if (fresh.length > 0) next = await source.hek.update(fresh)
        this.publishHek(next)
      }
      this.sinceRefresh = []
      this.state.lastRefreshStep = this.state.step
      source.hek = HierarchicalExperience.fromJSON(await this.group.broadcastJson(this.isMain ? next.toJSON() : null), 'the HEK sent by rank 0', this.hekLoadOptions())
      return
    }
    this.state.lastRefreshStep = this.state.step
    if (this.sinceRefresh.length === 0) return
    const t0 = performance.now()
    const fresh = await distillerFor(this.config, this.policy).distill(groupTrajectories(this.sinceRefresh))
    this.sinceRefresh = []
    if (fresh.length === 0) return
    const next = await source.hek.update(fresh)
    this.publishHek(next)
    source.hek = next
    this.metrics.append({ phase: 'hek', step: this.state.step, experiences: next.experiences().length, added: fresh.length, seconds: (performance.now() - t0) / 1000 })
  }

  /**
   * Warm start (once), then RL steps with validation and checkpoints, to config.steps; writes training.svg/.png (the
   * validation EM, with and without the HEK for HiExp, and the training reward). `onStep` sees each RL step's row.
   */
  async run({ quiet = false, onStep }: RunOptions = {}): Promise<RunResult> {
    const c = this.config
    const validation: ValidationMetrics[] = []
    const show = !quiet && this.isMain
    const log = (line: string, bar?: Progress) => (bar ? bar.log(line) : show && console.error(line))
    if (!this.state.warmStartDone && c.warmStart.steps > 0) {
      const bar = show ? progress('warm start', c.warmStart.steps) : undefined
      await this.warmStart(bar)
      bar?.stop()
      const v = await this.validate()
      if (v) {
        validation.push(v)
        log(`step ${v.step} (after the warm start): validation ${validationSummary(v)}`)
      }
      await this.checkpoint()
    }
    const e = c.experience
    const building = e.enabled && !this.experience && !this.resumedFrom?.hek && !e.hekFile && this.isMain
    const hekBar = show && building ? progress('HEK rollouts', Math.min(e.buildQuestions, this.task.train.length) * e.buildGroupSize) : undefined
    const hek = await this.prepareExperience(hekBar)
    hekBar?.stop()
    if (hek && this.builtHek) {
      const levels = hek.file.levels.map((l) => `${l.nodes.length} ${l.nodes.length === 1 ? l.name : l.name.replace(/y$/, 'ie') + 's'}`).join(' / ')
      log(`HEK: ${levels} from ${this.builtHek.trajectories} rollouts in ${this.builtHek.seconds.toFixed(0)} s: ${this.hekPath()}`)
    }
    // A HEK built here is committed at once: its build rollouts and metrics row then survive a kill in the next step.
    if (this.hekChanged) await this.checkpoint()
    const bar = show ? progress(methodName(c), c.steps) : undefined
    bar?.update(this.state.step)
    while (this.state.step < c.steps) {
      const row = await this.rlStep()
      bar?.update(this.state.step, `reward ${row.rewardMean.toFixed(2)} · train EM ${row.em.toFixed(2)}`)
      await onStep?.(row)
      if (this.state.step % c.validation.every === 0 || this.state.step === c.steps) {
        const v = await this.validate()
        if (v) {
          validation.push(v)
          log(`step ${this.state.step}: validation ${validationSummary(v)}`, bar)
        }
      }
      if (c.experience.enabled && c.experience.refreshEvery > 0 && this.state.step % c.experience.refreshEvery === 0) {
        await this.refreshExperience()
      }
      if (this.state.step % c.checkpointEvery === 0 || this.state.step === c.steps) await this.checkpoint()
    }
    bar?.stop()
    this.metrics.close()
    if (!this.isMain) return { validation }
    const plot = await plotTraining([{ name: methodName(c), metricsFile: this.metrics.path }], join(c.outDir, 'training')).catch((error: Error) => {
      // A run with nothing to draw yet (steps 0, no validation) has no curves; anything else is a real failure.
      if (/no rl or validation rows/.test(error.message)) return undefined
      throw error
    })
    return { validation, ...(plot && { plot }) }
  }
}

/** Why demonstrations ran out of budget, named by the option that limits them. */
function budgetCause(demos: readonly Rollout[], o: ResolvedRolloutOptions): string {
  const ends = demos.map((d) => d.finish)
  const share = (f: string) => ends.filter((x) => x === f).length
  if (share('max-turns') >= share('max-tokens')) {
    return `${share('max-turns')} of ${demos.length} ran out of turns (rollout.maxTurns ${o.maxTurns}: a question of h hops needs h search turns and one answer turn); raise rollout.maxTurns`
  }
  return `${share('max-tokens')} of ${demos.length} ran out of tokens (rollout.maxTotalTokens ${o.maxTotalTokens}, maxTurnTokens ${o.maxTurnTokens}); raise rollout.maxTotalTokens`
}

/** Share of search calls that got an experience with their documents (HiExp's second injection point). */
function searchExperienceShare(rollouts: readonly Rollout[]): number {
  const calls = rollouts.flatMap((r) => r.turns.filter((t) => t.infoSpan !== undefined))
  return calls.length === 0 ? 0 : calls.filter((t) => t.experience !== undefined).length / calls.length
}
