// The training run's configuration: one typed object, validated once (zod) before any work, loadable from JSON or
// YAML. It is composed from the schemas of the parts it configures (rollout loop, reward, optimiser, generated
// world, arithmetic task), so each option has one schema and one default, every block is strict (unknown keys are
// refused) and every error names its path in the run config ("train config: rollout.topk: …").
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { RolloutOptionsSchema } from '../agent/rollout.js'
import { RewardConfigSchema } from '../agent/reward.js'
import { ArithmeticOptionsSchema, type ArithmeticOptions } from '../env/arithmetic.js'
import { WorldOptionsSchema, type WorldOptions } from '../env/world_options.js'
import { checkRolloutMemory } from './memory.js'
import { OptimizerOptionsSchema } from './optimizer.js'
import type { TrainConfigInput } from './config_input.js'

// Who distils experiences (experience.distiller) is listed beside the experience block's schema.
import { DISTILLERS, ExperienceOptionsSchema } from '../experience/options.js'
import type { Same } from '../util/same_type.js'
export { DISTILLERS }

/**
 * Defaults that depend on the policy: the tiny from-scratch policy needs a long supervised warm start and large
 * learning rates; a real checkpoint (policy.checkpoint, e.g. Qwen2.5-Instruct) needs neither, and would be wrecked by
 * them. A value set in the config always wins.
 */
export const POLICY_DEFAULTS = {
  tiny: { optimizerLr: 3e-4, warmStartSteps: 150, warmStartLr: 2e-3, chat: 'none' },
  checkpoint: { optimizerLr: 1e-6, warmStartSteps: 0, warmStartLr: 1e-5, chat: 'search-r1' },
} as const

/** The policy losses' defaults by algorithm (DESIGN.md: verl's): written into the resolved config. */
export const CLIP_DEFAULTS = {
  grpo: { clipLow: 0.2, clipHigh: 0.2, aggregation: 'token-mean' },
  gspo: { clipLow: 3e-4, clipHigh: 4e-4, aggregation: 'seq-mean-token-mean' },
} as const

/** AdamW's defaults in the native optimiser (native/train/adamw.h), written into the resolved config. */
export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, schedule: 'constant' as const, minLrRatio: 0 }

// The run's rollout budget is smaller than runRollouts' own defaults (short answers in the generated world); a partial
// rollout block keeps these for every field it does not set.
const rolloutShape = RolloutOptionsSchema.shape
const TrainRolloutSchema = RolloutOptionsSchema.extend({
  // One search per hop and the answer: the default world's 4-hop questions need 5 turns (checked against the world below).
  maxTurns: rolloutShape.maxTurns.removeDefault().default(5),
  maxTurnTokens: rolloutShape.maxTurnTokens.removeDefault().default(24),
  maxTotalTokens: rolloutShape.maxTotalTokens.removeDefault().default(640),
  maxInfoTokens: rolloutShape.maxInfoTokens.removeDefault().default(192),
  /** The checkpoint's chat template around the prompt; default by policy: 'search-r1' with policy.checkpoint, else 'none'. */
  chat: rolloutShape.chat.removeDefault().optional(),
  /**
   * DAPO's dynamic sampling: groups whose rewards are all equal (no gradient) are dropped and more questions are
   * drawn, questionsPerStep at a time, until the step holds questionsPerStep groups with reward variance or maxDraws
   * draws were made (then it trains on what it kept). Off when absent.
   */
  dynamicSampling: z
    .object({
      /** Rollout batches drawn per step at most, the first included (verl's max_num_gen_batches). */
      maxDraws: z.number().int().min(1).max(64).default(4),
    })
    .strict()
    .optional(),
})

// Rewards: the reward module's defaults, with a small format reward and malformed penalty for the run.
const rewardShape = RewardConfigSchema.shape
const TrainRewardSchema = RewardConfigSchema.extend({
  formatWeight: rewardShape.formatWeight.removeDefault().default(0.1),
  malformedPenalty: rewardShape.malformedPenalty.removeDefault().default(0.1),
})

// The optimiser after the warm start: lr's default depends on the policy (POLICY_DEFAULTS), filled in after parsing.
const TrainOptimizerSchema = OptimizerOptionsSchema.extend({
  maxGradNorm: OptimizerOptionsSchema.shape.maxGradNorm.unwrap().default(1),
  warmupSteps: OptimizerOptionsSchema.shape.warmupSteps.unwrap().default(2),
}).refine((o) => o.schedule !== 'cosine' || o.totalSteps !== undefined, {
  message: "schedule 'cosine' needs totalSteps",
  path: ['totalSteps'],
})

/**
 * Options handed on to a generator that fills in its own defaults (generateWorld, generateArithmetic): checked here
 * against the generator's schema, issues reported under the config path, and kept as given (the world's seed, when
 * absent, is the run's).
 */
function checkedBy<T>(schema: z.ZodTypeAny): z.ZodType<T, z.ZodTypeDef, T | undefined> {
  return z
    .record(z.unknown())
    .default({})
    .superRefine((value, ctx) => {
      const parsed = schema.safeParse(value)
      if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue(issue as z.IssueData)
    }) as unknown as z.ZodType<T, z.ZodTypeDef, T | undefined>
}

const lossSchema = z
  .object({
    clipLow: z.number().min(0).lt(1).optional(),
    clipHigh: z.number().min(0).optional(),
    dualClip: z.number().gt(1).optional(),
    aggregation: z.enum(['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm']).optional(),
    /** β of the KL to the frozen reference policy (the paper: 1e-3; 0: off). */
    klCoef: z.number().min(0).default(1e-3),
    klEstimator: z.enum(['k1', 'k2', 'k3']).default('k3'),
  })
  .strict()

/** Where metrics go besides the console: 'jsonl' (metrics.jsonl, always: the run's record) and 'tensorboard'. */
export const LOGGERS = ['jsonl', 'tensorboard'] as const

const TrainConfigObject = z
  .object({
    /** The JSON Schema this file follows (schema/train-config.schema.json, for editors); ignored by hiexp. */
    $schema: z.string().optional(),
    /** Where checkpoints, metrics.jsonl, the HEK and plots go; a run resumes from what it finds there. */
    outDir: z
      .string()
      .refine((d) => d.trim() !== '', "must name a folder ('' would write the run into the current directory)")
      .default('runs/hiexp'),
    seed: z.number().int().default(0),
    task: z
      .object({
        /**
         * 'world': the generated multi-hop world (embedded default); 'arithmetic': the generated word problems, with the
         * world's corpus still behind the search tool (cross-task experience); 'searchr1': files in Search-R1's layout.
         */
        kind: z.enum(['world', 'arithmetic', 'searchr1']).default('world'),
        /** Options of generateWorld (kinds 'world' and 'arithmetic': the corpus the search tool sees). */
        world: checkedBy<WorldOptions>(WorldOptionsSchema),
        /** Options of generateArithmetic (kind 'arithmetic'). */
        arithmetic: checkedBy<ArithmeticOptions>(ArithmeticOptionsSchema),
        trainFile: z.string().optional(),
        validationFile: z.string().optional(),
        testFile: z.string().optional(),
        /** Corpus JSONL for BM25 (kind 'searchr1' without retrieverUrl). */
        corpusFile: z.string().optional(),
        /** A Search-R1 retrieval server instead of local BM25. */
        retrieverUrl: z.string().url().optional(),
      })
      .strict()
      .default({}),
    policy: z
      .object({
        /** A Hugging Face checkpoint folder (Qwen2/2.5); without it a tiny policy is trained from scratch. */
        checkpoint: z.string().optional(),
        device: z.string().default('cpu'),
        dtype: z.enum(['float32', 'bfloat16', 'float16']).default('float32'),
        /** Size of the from-scratch policy (tinyConfig overrides). */
        tiny: z
          .object({
            hiddenSize: z.number().int().min(8).default(128),
            intermediateSize: z.number().int().min(8).default(352),
            numLayers: z.number().int().min(1).default(2),
            numHeads: z.number().int().min(1).default(4),
            numKvHeads: z.number().int().min(1).default(2),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    /** runRollouts options (template, topk, maxTurns, token budgets, temperature); the run's own budget defaults. */
    rollout: TrainRolloutSchema.default({}),
    /** Reward configuration (metric, format weight, penalties). */
    reward: TrainRewardSchema.default({}),
    algorithm: z.enum(['grpo', 'gspo']).default('grpo'),
    advantage: z
      .object({
        estimator: z.enum(['grpo', 'drgrpo', 'rloo', 'reinforce++-baseline']).default('grpo'),
        zeroSingletons: z.boolean().default(false),
      })
      .strict()
      .default({}),
    loss: lossSchema.default({}),
    /** Policy optimiser (lr, warmupSteps, schedule, maxGradNorm, microBatchSize); lr's default: POLICY_DEFAULTS. */
    optimizer: TrainOptimizerSchema.default({}),
    steps: z.number().int().min(0).default(60),
    questionsPerStep: z.number().int().min(1).default(8),
    groupSize: z.number().int().min(1).default(5),
    /** Passes over each step's rollouts, in mini-batches of miniBatchSize rollouts (default: all of them). */
    ppoEpochs: z.number().int().min(1).default(1),
    miniBatchSize: z.number().int().min(1).optional(),
    /**
     * Supervised warm start on oracle demonstrations (the from-scratch policy knows nothing before it). steps and lr
     * default by policy (POLICY_DEFAULTS): on for the tiny policy, off for a checkpoint unless steps is set.
     */
    warmStart: z
      .object({
        steps: z.number().int().min(0).optional(),
        batchSize: z.number().int().min(1).default(16),
        lr: z.number().gt(0).optional(),
        /** Share of the train questions used for demonstrations. */
        questionShare: z.number().gt(0).max(1).default(0.5),
        /**
         * Share of the demonstrations whose prompt carries experiences retrieved from experience.hekFile (0: none). A
         * from-scratch policy that never saw the slot filled cannot read it; this teaches it the prompt layout.
         */
        experienceShare: z.number().min(0).max(1).default(0),
        /**
         * Share of the demonstrations *without* experiences that stop the chain early and answer the entity reached so
         * far. With experienceShare it makes a policy that behaves better when advised: a check of the mechanism that
         * experience-aligned RL relies on (moving advised behaviour to the experience-free prompt), not a recipe.
         */
        flawedShare: z.number().min(0).max(1).default(0),
        /**
         * With task.world.phrasings (the bottleneck world): share of the demonstrations that ask one hop by a word
         * reserved for the warm start and carry the advice that names its query word (train/warm_start.ts); the others
         * have an empty slot. No demonstration shows a held-out phrasing.
         */
        adviceShare: z.number().min(0).max(1).default(0.5),
        /**
         * With task.world.phrasings: demonstrations per warm-start question, each with its own phrasings, reserved
         * word and advice lines (so that the advice-reading skill is learnt from many cases, not memorised from a few).
         */
        variants: z.number().int().min(1).max(16).default(1),
      })
      .strict()
      .default({}),
    validation: z
      .object({
        every: z.number().int().min(1).default(10),
        questions: z.number().int().min(1).default(96),
      })
      .strict()
      .default({}),
    checkpointEvery: z.number().int().min(1).default(20),
    /**
     * Metrics sinks, like verl's trainer.logger: 'jsonl' (metrics.jsonl, the run's record, always written) and
     * 'tensorboard' (event files in outDir/tensorboard for `tensorboard --logdir`).
     */
    logger: z
      .array(z.enum(LOGGERS))
      .min(1)
      .default(['jsonl'])
      .refine((l) => l.includes('jsonl'), "must include 'jsonl': metrics.jsonl is the run's record (a resume cuts it back to its checkpoint)"),
    /** HiExp (off: plain GRPO / GSPO); the paper's form by default: lib/experience/options.ts. */
    experience: ExperienceOptionsSchema.default({}),
  })
  .strict()

/** The run configuration: its blocks, their cross-field rules, then the policy-dependent defaults filled in. */
export const TrainConfigSchema = TrainConfigObject
  .refine((c) => c.warmStart.experienceShare === 0 || c.experience.hekFile !== undefined, {
    message: 'warmStart.experienceShare > 0 needs experience.hekFile (a HEK built beforehand: hiexp build-hek or a compare run)',
    path: ['warmStart', 'experienceShare'],
  })
  .superRefine((c, ctx) => {
    // A search asked in the last turn ends the rollout: a world question of h hops needs h + 1 turns to be answered.
    if (c.task.kind !== 'world') return
    const hops = (c.task.world as WorldOptions).hops ?? [1, 2, 3, 4]
    const need = Math.max(...hops) + 1
    if (c.rollout.maxTurns < need) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['rollout', 'maxTurns'],
        message: `${c.rollout.maxTurns} turns cannot answer the world's ${need - 1}-hop questions (one search per hop, then the answer: at least ${need})`,
      })
    }
  })
  .refine((c) => c.experience.distiller !== 'llm' || c.experience.llm !== undefined, {
    message: "experience.distiller 'llm' needs experience.llm { baseURL, model }",
    path: ['experience', 'llm'],
  })
  .transform((c) => {
    const d = c.policy.checkpoint !== undefined ? POLICY_DEFAULTS.checkpoint : POLICY_DEFAULTS.tiny
    return {
      ...c,
      rollout: { ...c.rollout, chat: c.rollout.chat ?? d.chat },
      optimizer: { ...c.optimizer, lr: c.optimizer.lr ?? d.optimizerLr },
      warmStart: { ...c.warmStart, steps: c.warmStart.steps ?? d.warmStartSteps, lr: c.warmStart.lr ?? d.warmStartLr },
    }
  })

/** A run configuration as written (every field optional, documented field by field: config_input.ts). */
export type TrainConfig = TrainConfigInput

// The documented interface and the zod schema must describe the same object: this fails to compile when they drift.
// Optional fields one side lacks pass Same, so the dotted paths of every field are compared too.
type FieldPaths<T> = T extends readonly unknown[] | ((...args: never[]) => unknown)
  ? never
  : T extends object
    ? { [K in keyof T & string]-?: K | `${K}.${FieldPaths<NonNullable<T[K]>>}` }[keyof T & string]
    : never
const inputMatchesSchema: Same<TrainConfigInput, z.input<typeof TrainConfigSchema>> = true
const fieldsMatchSchema: Same<FieldPaths<TrainConfigInput>, FieldPaths<z.input<typeof TrainConfigSchema>>> = true
void inputMatchesSchema
void fieldsMatchSchema
export type ResolvedTrainConfig = z.output<typeof TrainConfigSchema>

/**
 * Validates a whole configuration before any work, naming the first wrong field by its path, and checks that its
 * rollout batches fit in memory (checkRolloutMemory).
 */
export function parseTrainConfig(config: unknown): ResolvedTrainConfig {
  const parsed = TrainConfigSchema.safeParse(config ?? {})
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`train config: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  checkRolloutMemory(parsed.data)
  return parsed.data
}

/**
 * The configuration with the values the run uses where it leaves them to the kernels: the algorithm's clip range and
 * aggregation, AdamW's moments, eps and decay. What a run saves as its config.json. (The resolved config keeps them
 * unset so that a config re-used with another algorithm gets that algorithm's defaults.)
 */
export function effectiveConfig(c: ResolvedTrainConfig): ResolvedTrainConfig {
  const clip = CLIP_DEFAULTS[c.algorithm]
  return {
    ...c,
    loss: { ...c.loss, clipLow: c.loss.clipLow ?? clip.clipLow, clipHigh: c.loss.clipHigh ?? clip.clipHigh, aggregation: c.loss.aggregation ?? clip.aggregation },
    optimizer: { ...ADAMW_DEFAULTS, ...c.optimizer },
  }
}

/** Paths that earlier versions left unset (effectiveConfig's, and newer options): such a saved run is the same run. */
export const EFFECTIVE_DEFAULT_PATHS = [
  'rollout.chat',
  ...Object.keys(CLIP_DEFAULTS.grpo).map((k) => `loss.${k}`),
  ...Object.keys(ADAMW_DEFAULTS).map((k) => `optimizer.${k}`),
]

/** Reads a .json, .yaml or .yml configuration file. */
export function loadTrainConfig(file: string): ResolvedTrainConfig {
  if (!existsSync(file)) throw new Error(`train config: cannot read ${resolve(file)}: no such file`)
  const text = readFileSync(file, 'utf8')
  let raw: unknown
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text)
  } catch (error) {
    throw new SyntaxError(`${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(error as Error).message}`)
  }
  return parseTrainConfig(raw)
}
