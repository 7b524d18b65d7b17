// The training run's configuration: one typed object, validated once (zod), loadable from JSON or YAML.
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'

/** Who distils experiences from contrasted rollouts (experience.distiller). */
export const DISTILLERS = ['offline', 'self', 'llm'] as const

const lossSchema = z
  .object({
    clipLow: z.number().min(0).lt(1).optional(),
    clipHigh: z.number().min(0).optional(),
    dualClip: z.number().gt(1).optional(),
    aggregation: z.enum(['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm']).optional(),
    klCoef: z.number().min(0).default(0),
    klEstimator: z.enum(['k1', 'k2', 'k3']).default('k3'),
  })
  .strict()

export const TrainConfigSchema = z
  .object({
    /** Where checkpoints, metrics.jsonl, the HEK and plots go; a run resumes from what it finds there. */
    outDir: z.string().default('runs/hiexp'),
    seed: z.number().int().default(0),
    task: z
      .object({
        /**
         * 'world': the generated multi-hop world (embedded default); 'arithmetic': the generated word problems, with the
         * world's corpus still behind the search tool (cross-task experience); 'searchr1': files in Search-R1's layout.
         */
        kind: z.enum(['world', 'arithmetic', 'searchr1']).default('world'),
        /** Options of generateWorld (kinds 'world' and 'arithmetic': the corpus the search tool sees). */
        world: z.record(z.unknown()).default({}),
        /** Options of generateArithmetic (kind 'arithmetic'). */
        arithmetic: z.record(z.unknown()).default({}),
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
    /** runRollouts options (template, topk, maxTurns, token budgets, temperature). */
    rollout: z.record(z.unknown()).default({ topk: 3, maxTurns: 4, maxTurnTokens: 24, maxTotalTokens: 640, maxInfoTokens: 192 }),
    /** Reward configuration (metric, format weight, penalties). */
    reward: z.record(z.unknown()).default({ metric: 'em', formatWeight: 0.1, malformedPenalty: 0.1 }),
    algorithm: z.enum(['grpo', 'gspo']).default('grpo'),
    advantage: z
      .object({
        estimator: z.enum(['grpo', 'drgrpo', 'rloo', 'reinforce++-baseline']).default('grpo'),
        zeroSingletons: z.boolean().default(false),
      })
      .strict()
      .default({}),
    loss: lossSchema.default({}),
    /** Policy optimiser (lr, warmupSteps, schedule, maxGradNorm, microBatchSize). */
    optimizer: z.record(z.unknown()).default({ lr: 3e-4, maxGradNorm: 1, warmupSteps: 2 }),
    steps: z.number().int().min(0).default(60),
    questionsPerStep: z.number().int().min(1).default(8),
    groupSize: z.number().int().min(1).default(5),
    /** Passes over each step's rollouts, in mini-batches of miniBatchSize rollouts (default: all of them). */
    ppoEpochs: z.number().int().min(1).default(1),
    miniBatchSize: z.number().int().min(1).optional(),
    /** Supervised warm start on oracle demonstrations (the from-scratch policy knows nothing before it). */
    warmStart: z
      .object({
        steps: z.number().int().min(0).default(150),
        batchSize: z.number().int().min(1).default(16),
        lr: z.number().gt(0).default(2e-3),
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
    /** HiExp: experience-aligned training (off: plain GRPO / GSPO). */
    experience: z
      .object({
        enabled: z.boolean().default(false),
        /** Share of each group's rollouts that see retrieved experiences (ρ). */
        guidedFraction: z.number().min(0).max(1).default(0.5),
        /** Score every rollout under the experience-free prompt (the policy internalises the experience). */
        alignToExperienceFree: z.boolean().default(true),
        /** β of the token-level KL towards the experience-conditioned sampling distribution (0: off). */
        regularizerCoef: z.number().min(0).default(0.01),
        /** HEK file to use; without it one is built from the warm-start policy's rollouts. */
        hekFile: z.string().optional(),
        /** Tokens of experience text in a prompt. */
        tokenBudget: z.number().int().min(1).default(48),
        /** Rebuild the HEK from fresh rollouts every this many steps (0: static HEK, as in the paper). */
        refreshEvery: z.number().int().min(0).default(0),
        /** Evaluate with experiences in the prompt too (both are reported). */
        evaluateWithExperience: z.boolean().default(true),
        /** Who distils experiences from contrasted rollouts: the offline analyzer, the policy itself, or an LLM endpoint. */
        distiller: z.enum(DISTILLERS).default('offline'),
        /** OpenAI-compatible endpoint of the 'llm' distiller. */
        llm: z.object({ baseURL: z.string().url(), model: z.string(), apiKey: z.string().optional() }).strict().optional(),
        /** Questions (and rollouts of each) sampled to build the first HEK from the warm-started policy. */
        buildQuestions: z.number().int().min(1).default(96),
        buildGroupSize: z.number().int().min(2).default(5),
      })
      .strict()
      .default({}),
  })
  .strict()
  .refine((c) => c.warmStart.experienceShare === 0 || c.experience.hekFile !== undefined, {
    message: 'warmStart.experienceShare > 0 needs experience.hekFile (a HEK built beforehand: hiexp build-hek or a compare run)',
    path: ['warmStart', 'experienceShare'],
  })
  .refine((c) => c.experience.distiller !== 'llm' || c.experience.llm !== undefined, {
    message: "experience.distiller 'llm' needs experience.llm { baseURL, model }",
    path: ['experience', 'llm'],
  })

export type TrainConfig = z.input<typeof TrainConfigSchema>
export type ResolvedTrainConfig = z.output<typeof TrainConfigSchema>

/** Validates a configuration, naming the first wrong field. */
export function parseTrainConfig(config: unknown): ResolvedTrainConfig {
  const parsed = TrainConfigSchema.safeParse(config ?? {})
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`train config: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}

/** Reads a .json, .yaml or .yml configuration file. */
export function loadTrainConfig(file: string): ResolvedTrainConfig {
  const text = readFileSync(file, 'utf8')
  let raw: unknown
  try {
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text)
  } catch (error) {
    throw new SyntaxError(`${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(error as Error).message}`)
  }
  return parseTrainConfig(raw)
}
