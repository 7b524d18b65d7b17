// The RL loop of a search agent: sample questions, roll out G times each (a share with HiExp experiences when on),
// reward, group advantages, policy updates (GRPO / GSPO through the native loss), validation, checkpoints and a
// metrics line per step. Resumes from what it finds in outDir.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { generateDemonstrations } from '../agent/demonstrations.js'
import { evaluateRollouts, type Evaluation } from '../agent/evaluate.js'
import { DEFAULT_TEMPLATE, renderPrompt } from '../agent/prompt.js'
import { computeReward, parseRewardConfig, type ResolvedRewardConfig, type RewardParts } from '../agent/reward.js'
import { parseRolloutOptions, runRollouts, withPrompt, type ResolvedRolloutOptions, type Rollout } from '../agent/rollout.js'
import { mean, std } from '../util/stats.js'
import { Random } from '../util/random.js'
import type { QaExample } from '../env/types.js'
import { Policy, type OptimizerOptions, type RlBatch, type TrainStats } from '../model/policy.js'
import { writeFileAtomic } from '../util/atomic.js'
import { MetricsLog, type MetricsRow } from '../report/metrics.js'
import { progress, type Progress } from '../report/progress.js'
import { groupAdvantages } from '../ops/rl/advantages.js'
import { parseTrainConfig, type ResolvedTrainConfig, type TrainConfig } from './config.js'
import { checkpointDir, initialPolicy, loadTask, type Task } from './task.js'
import type { PolicyLossOptions } from '../ops/rl/types.js'
import type { Retriever } from '../search/types.js'
import { readDistEnv } from '../distributed/env.js'
import { getProcessGroup, initProcessGroup, shard, type ProcessGroup } from '../distributed/group.js'
import { buildHek, collectTrajectories, distillerFor, guidedRequest, HekExperienceSource, type ExperienceSource } from '../experience/source.js'
import { internalization } from '../experience/options.js'
import { HierarchicalExperience } from '../experience/hek.js'
import { writeHekPictures } from '../experience/show.js'
import { recordFromRollout, TrajectoryStore } from '../experience/store.js'
import { groupTrajectories, type TrajectoryRecord } from '../experience/types.js'

export type { ExperienceSource } from '../experience/source.js'

interface RunState {
  step: number
  warmStartDone: boolean
}

export class Trainer {
  /** HiExp's experiences for guided rollouts; without it every rollout is experience-free (plain GRPO / GSPO). */
  experience?: ExperienceSource
  private readonly rollout: ResolvedRolloutOptions
  private readonly reward: ResolvedRewardConfig
  private readonly metrics: MetricsLog
  private order: QaExample[] = []
  private passOf = -1
  /** Every rollout of the run, one JSON line each (the input of experience distillation). */
  readonly trajectories: TrajectoryStore
  /** RL trajectories since the HEK was last rebuilt (dynamic HEK). */
  private sinceRefresh: TrajectoryRecord[] = []
  /** Data-parallel group (WORLD_SIZE > 1): questions are sharded by rank, gradients all-reduced, rank 0 writes. */
  private group?: ProcessGroup

  private constructor(
    readonly config: ResolvedTrainConfig,
    readonly task: Task,
    public policy: Policy,
    private state: RunState,
  ) {
    this.rollout = parseRolloutOptions(config.rollout as never)
    this.reward = parseRewardConfig(config.reward as never)
    this.metrics = new MetricsLog(join(config.outDir, 'metrics.jsonl'))
    const rank = readDistEnv().rank
    this.trajectories = new TrajectoryStore(join(config.outDir, rank > 0 ? `trajectories.rank${rank}.jsonl` : 'trajectories.jsonl'))
  }

  private get isMain(): boolean {
    return !this.group || this.group.isMain
  }

  /** Joins the data-parallel group when launched as several ranks (hiexp launch, torchrun's variables). */
  private async joinGroup(): Promise<void> {
    if (readDistEnv().worldSize <= 1) return
    this.group = getProcessGroup() ?? (await initProcessGroup())
    await this.policy.attachProcessGroup(this.group)
  }

  /** Builds the run, or resumes it from outDir's checkpoint (metrics after the checkpoint's step are dropped). */
  static async create(config: TrainConfig | ResolvedTrainConfig): Promise<Trainer> {
    const c = parseTrainConfig(config)
    const task = await loadTask(c)
    const ckpt = checkpointDir(c.outDir)
    const statePath = join(c.outDir, 'state.json')
    if (existsSync(join(ckpt, 'hiexp_trainer.json')) && existsSync(statePath)) {
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as RunState
      const policy = await Policy.loadCheckpoint(ckpt, { device: c.policy.device, dtype: c.policy.dtype })
      const trainer = new Trainer(c, task, policy, state)
      await trainer.joinGroup()
      if (trainer.isMain) trainer.metrics.truncateAfter(state.step)
      return trainer
    }
    const trainer = new Trainer(c, task, await initialPolicy(c, task), { step: 0, warmStartDone: false })
    await trainer.joinGroup()
    if (trainer.isMain) writeFileAtomic(join(c.outDir, 'config.json'), JSON.stringify(c, null, 2))
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
    // The first share of the (shuffled) questions carries its retrieved experiences, the rest an empty slot; of
    // those, a flawedShare stops its chain early. (Forks only when used: they would shift the batch sampling below.)
    const guided = Math.round(w.experienceShare * questions.length)
    let experiences: string[] | undefined
    if (guided > 0) {
      const source = this.experienceSource(await HierarchicalExperience.load(this.config.experience.hekFile!))
      experiences = await Promise.all(questions.map((q, i) => (i < guided ? source.render(q) : '')))
    }
    let stopAfter: (number | undefined)[] | undefined
    if (w.flawedShare > 0) {
      const flawed = rng.fork('flawed')
      stopAfter = questions.map((q, i) => {
        const hops = q.relations?.length ?? 0
        return i >= guided && hops > 0 && flawed.chance(w.flawedShare) ? flawed.int(0, hops - 1) : undefined
      })
    }
    const demos = await generateDemonstrations(questions, this.task.retriever, this.policy.tokenizer, this.config.rollout as never, {
      ...(experiences ? { experiences } : {}),
      ...(stopAfter ? { stopAfter } : {}),
    })
    const usable = demos.filter((d) => d.finish === 'answer')
    if (usable.length === 0) throw new Error('warm start: no demonstration reached an answer within the rollout budget; raise rollout.maxTotalTokens')
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

  /** The experience-free prompt of a question, as runRollouts encodes it. */
  private promptIds(q: QaExample): number[] {
    return this.policy.tokenizer.encode(renderPrompt(this.rollout.template ?? DEFAULT_TEMPLATE, { question: q.question }))
  }

  /** One RL step; returns (and logs) its metrics. */
  async rlStep(): Promise<MetricsRow> {
    const c = this.config
    const G = c.groupSize
    const t0 = performance.now()
    // Data parallel: each rank rolls out whole groups of its share of the step's questions.
    const questions = this.group ? shard(this.questionsFor(this.state.step), this.group) : this.questionsFor(this.state.step)
    const guided = this.experience && c.experience.enabled ? Math.round(c.experience.guidedFraction * G) : 0
    // Guided rollouts carry the HEK at both points (prompt and search calls); the others are experience-free.
    const withHek = guided > 0 ? await Promise.all(questions.map((q) => guidedRequest(q, this.experience))) : []
    const requests = questions.flatMap((q, j) => Array.from({ length: G }, (_, k) => (k < guided ? withHek[j] : { question: q.question })))
    const { rollouts, timing } = await runRollouts(this.policy, this.task.retriever, requests, {
      ...this.rollout,
      seed: c.seed * 100_003 + this.state.step * 17,
    })
    const t1 = performance.now()
    const parts: RewardParts[] = rollouts.map((r, i) => computeReward(r, questions[Math.floor(i / G)].goldAnswers, this.reward))
    const rewards = Float32Array.from(parts.map((p) => p.total))
    const records = rollouts.map((r, i) =>
      recordFromRollout(r, { example: questions[Math.floor(i / G)], reward: { ...parts[i] }, step: this.state.step + 1, guided: i % G < guided }),
    )
    this.trajectories.append(records)
    this.sinceRefresh.push(...records)
    const advantages = groupAdvantages(rewards, { groupSize: G, estimator: c.advantage.estimator, zeroSingletons: c.advantage.zeroSingletons })

    // The update batch: every rollout as sampled, its prompt and tool responses (experiences included) in the context
    // and masked out (the paper: the ratio is taken under the sampling context). hiexp's internalisation variant
    // scores guided rollouts behind the experience-free prompt instead, with a KL towards their sampling distribution.
    const isGuided = rollouts.map((_, i) => i % G < guided)
    const inner = internalization(c.experience)
    const rows = rollouts.map((r, i) => (isGuided[i] && inner.align ? withPrompt(r, this.promptIds(questions[Math.floor(i / G)])) : r))
    const regularize = guided > 0 && inner.klCoef > 0
    const stats = await this.update(rows, advantages, regularize ? inner.klCoef : 0)
    const t2 = performance.now()
    this.state.step++

    const groupStd = questions.map((_, g) => std(Array.from(rewards.subarray(g * G, (g + 1) * G))))
    const queries = rollouts.flatMap((r) => r.queries.length)
    const repeated = rollouts.reduce((s, _r, i) => s + parts[i].repeatedQueries, 0)
    const row: MetricsRow = {
      phase: 'rl',
      step: this.state.step,
      rewardMean: mean(Array.from(rewards)),
      rewardStd: std(Array.from(rewards)),
      rewardGroupStd: mean(groupStd),
      // Groups whose rewards are all equal give no gradient (every advantage is 0).
      zeroVarianceGroupShare: mean(groupStd.map((s) => (s < 1e-9 ? 1 : 0))),
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
    if (guided > 0) {
      row.searchExperienceShare = searchExperienceShare(rollouts.filter((_, i) => isGuided[i]))
      row.guidedRewardMean = mean(Array.from(rewards).filter((_, i) => isGuided[i]))
      row.unguidedRewardMean = mean(Array.from(rewards).filter((_, i) => !isGuided[i]))
    }
    if (this.group) {
      const { phase, ...numbers } = row
      Object.assign(row, await this.group.reduceMetrics(numbers as Record<string, number>, 'mean'), { phase })
    }
    if (this.isMain) this.metrics.append(row)
    return row
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
    if (regularize) Object.assign(loss, { klCoef: regularizeCoef, klEstimator: 'k3' })
    const out: TrainStats[] = []
    for (let epoch = 0; epoch < c.ppoEpochs; epoch++) {
      const order = epoch === 0 && size === n ? [...Array(n).keys()] : rng.shuffle([...Array(n).keys()])
      for (let at = 0; at < n; at += size) {
        const idx = order.slice(at, at + size)
        // Sampling log-probs are the PPO "old" policy, under the context the rollout was sampled in. For the
        // internalisation variant's regulariser they are also the KL target: on guided rollouts the
        // experience-conditioned distribution π_old(·|q,e); on the others the KL to π_old(·|q) is zero at the first epoch.
        // Otherwise loss.klCoef (default 1e-3, the paper's β) takes the KL to the frozen reference policy.
        const batch: RlBatch = {
          sequences: idx.map((i) => rows[i].tokens),
          masks: idx.map((i) => rows[i].mask),
          advantages: Float32Array.from(idx.map((i) => advantages[i])),
          oldLogprobs: idx.map((i) => rows[i].logprobs),
          ...(regularize ? { refLogprobs: idx.map((i) => rows[i].logprobs) } : {}),
        }
        out.push(await this.policy.trainStep(batch, loss))
      }
    }
    return out
  }

  /**
   * Greedy rollouts on `examples`: EM, F1, CEM, search calls and tokens, by hop count. `withExperience`: with the
   * run's HEK at both injection points, by the same rules as in training (HiExp's own number).
   */
  async evaluate(
    examples: readonly QaExample[],
    { withExperience = false, retriever = this.task.retriever }: { withExperience?: boolean; retriever?: Retriever } = {},
  ): Promise<Evaluation> {
    const source = withExperience ? this.experience : undefined
    if (withExperience && !source) throw new Error('evaluate: withExperience needs the run\'s HEK (experience.enabled and prepareExperience())')
    const requests = await Promise.all(examples.map((q) => guidedRequest(q, source)))
    const { rollouts } = await runRollouts(this.policy, retriever, requests, { ...this.rollout, temperature: 0 })
    return evaluateRollouts(rollouts, examples)
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

  async validate(): Promise<MetricsRow | undefined> {
    if (!this.isMain) return undefined
    const plain = await this.evaluate(this.validationSet())
    const row: MetricsRow = {
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
    this.metrics.append(row)
    return row
  }

  /**
   * Saves the policy (weights, optimiser, RNG) and the run state. The new checkpoint is written beside the old one
   * and swapped in by renames, so a crash mid-save leaves the previous checkpoint whole.
   */
  async checkpoint(): Promise<void> {
    const dir = checkpointDir(this.config.outDir)
    const fresh = `${dir}.new`
    const stale = `${dir}.old`
    if (this.isMain) rmSync(fresh, { recursive: true, force: true })
    await this.policy.saveCheckpoint(fresh) // every rank calls it; rank 0 alone writes
    if (!this.isMain) return
    rmSync(stale, { recursive: true, force: true })
    if (existsSync(dir)) renameSync(dir, stale)
    renameSync(fresh, dir)
    rmSync(stale, { recursive: true, force: true })
    writeFileAtomic(join(this.config.outDir, 'state.json'), JSON.stringify(this.state))
  }

  private hekPath(): string {
    return this.config.experience.hekFile ?? join(this.config.outDir, 'hek.json')
  }

  /**
   * HiExp's knowledge base: loaded from experience.hekFile (or the run's own hek.json when resuming), else built from
   * the current policy's rollouts on sampled train questions, contrasted and distilled, then clustered.
   */
  async prepareExperience(): Promise<HierarchicalExperience | undefined> {
    const e = this.config.experience
    if (!e.enabled || this.experience) return undefined
    const path = this.hekPath()
    let hek: HierarchicalExperience
    if (!this.isMain) {
      // Rank 0 loads or builds it and sends it to every rank.
      hek = HierarchicalExperience.fromJSON(await this.group!.broadcastJson<unknown>(null))
    } else if (existsSync(path)) {
      hek = await HierarchicalExperience.load(path)
    } else {
      const t0 = performance.now()
      const questions = new Random(this.config.seed).fork('hek').shuffle(this.task.train).slice(0, e.buildQuestions)
      const records = await collectTrajectories(this.policy, this.task.retriever, questions, e.buildGroupSize, this.rollout, this.reward, this.trajectories, this.state.step)
      hek = await buildHek(records, distillerFor(this.config, this.policy), { thresholds: e.thresholds })
      hek.save(path)
      writeHekPictures(hek, path.replace(/\.json$/, ''))
      this.metrics.append({ phase: 'hek', step: this.state.step, experiences: hek.experiences().length, trajectories: records.length, seconds: (performance.now() - t0) / 1000 })
    }
    if (this.isMain && this.group) await this.group.broadcastJson(hek.toJSON())
    this.experience = this.experienceSource(hek)
    return hek
  }

  private experienceSource(hek: HierarchicalExperience): HekExperienceSource {
    const tokenizer = this.policy.tokenizer
    const e = this.config.experience
    return new HekExperienceSource(hek, {
      promptTopK: e.promptTopK,
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
        next.save(this.hekPath())
      }
      this.sinceRefresh = []
      source.hek = HierarchicalExperience.fromJSON(await this.group.broadcastJson(this.isMain ? next.toJSON() : null))
      return
    }
    if (this.sinceRefresh.length === 0) return
    const t0 = performance.now()
    const fresh = await distillerFor(this.config, this.policy).distill(groupTrajectories(this.sinceRefresh))
    this.sinceRefresh = []
    if (fresh.length === 0) return
    const next = await source.hek.update(fresh)
    next.save(this.hekPath())
    source.hek = next
    this.metrics.append({ phase: 'hek', step: this.state.step, experiences: next.experiences().length, added: fresh.length, seconds: (performance.now() - t0) / 1000 })
  }

  /** Warm start (once), then RL steps with validation and checkpoints, to config.steps. */
  async run({ quiet = false } = {}): Promise<{ validation: MetricsRow[] }> {
    const c = this.config
    const validation: MetricsRow[] = []
    if (!this.state.warmStartDone && c.warmStart.steps > 0) {
      const bar = quiet || !this.isMain ? undefined : progress('warm start', c.warmStart.steps)
      await this.warmStart(bar)
      bar?.stop()
      const v = await this.validate()
      if (v) validation.push(v)
      await this.checkpoint()
    }
    await this.prepareExperience()
    const bar = quiet || !this.isMain ? undefined : progress(`${c.algorithm}${c.experience.enabled ? ' + HiExp' : ''}`, c.steps)
    bar?.update(this.state.step)
    while (this.state.step < c.steps) {
      const row = await this.rlStep()
      bar?.update(this.state.step, `reward ${(row.rewardMean as number).toFixed(2)} · EM ${(row.em as number).toFixed(2)}`)
      if (this.state.step % c.validation.every === 0 || this.state.step === c.steps) {
        const v = await this.validate()
        if (v) {
          validation.push(v)
          bar?.log(`step ${this.state.step}: validation EM ${(v.em as number).toFixed(3)} F1 ${(v.f1 as number).toFixed(3)}`)
        }
      }
      if (c.experience.enabled && c.experience.refreshEvery > 0 && this.state.step % c.experience.refreshEvery === 0) {
        await this.refreshExperience()
      }
      if (this.state.step % c.checkpointEvery === 0 || this.state.step === c.steps) await this.checkpoint()
    }
    bar?.stop()
    return { validation }
  }
}

/** Share of search calls that got an experience with their documents (HiExp's second injection point). */
function searchExperienceShare(rollouts: readonly Rollout[]): number {
  const calls = rollouts.flatMap((r) => r.turns.filter((t) => t.infoSpan !== undefined))
  return calls.length === 0 ? 0 : calls.filter((t) => t.experience !== undefined).length / calls.length
}
