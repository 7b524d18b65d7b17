// The run configuration as a user writes it, field by field with its documentation, so that an editor shows it on
// hover and completion (zod's z.input<> type is computed and drops the schema's comments). config.ts checks at
// compile time that this interface and the zod schema describe the same object: neither can drift from the other.
import type { ArithmeticOptions } from '../env/arithmetic.js'
import type { WorldOptions } from '../env/world_options.js'
import type { OptimizerOptions } from '../model/policy.js'

export interface TrainConfigInput {
  /** The JSON Schema this file follows (`./node_modules/hiexp/schema/train-config.schema.json`); ignored by hiexp. */
  $schema?: string
  /** Where checkpoints, metrics.jsonl, the HEK and plots go; a run resumes from what it finds there. Default 'runs/hiexp'. */
  outDir?: string
  /** Seed of everything random in the run (world, sampling, shuffles). Default 0. */
  seed?: number
  /** What the run trains on. */
  task?: TaskInput
  /** The policy: a checkpoint folder, or a tiny one trained from scratch. */
  policy?: PolicyInput
  /** The rollout loop: prompt template, chat format, retrieval, budgets, sampling. */
  rollout?: RolloutInput
  /** Reward: outcome metric, format reward, penalties. */
  reward?: RewardInput
  /** 'grpo' (token-level clipped surrogate) or 'gspo' (sequence-level ratio). Default 'grpo'. */
  algorithm?: 'grpo' | 'gspo'
  advantage?: {
    /** Group advantage estimator. Default 'grpo'. */
    estimator?: 'grpo' | 'drgrpo' | 'rloo' | 'reinforce++-baseline'
    /** A group of one rollout gets advantage 0 (default false: it keeps its reward). */
    zeroSingletons?: boolean
  }
  /** The policy loss (verl's): clip range, aggregation, KL to the reference. */
  loss?: LossInput
  /** Policy optimiser after the warm start (AdamW with a schedule); lr's default depends on the policy. */
  optimizer?: OptimizerInput
  /** RL steps. Default 60. */
  steps?: number
  /** Questions per RL step. Default 8. */
  questionsPerStep?: number
  /** Rollouts per question (G): the group whose rewards give the advantages. Default 5. */
  groupSize?: number
  /** Passes over each step's rollouts, in mini-batches of miniBatchSize rollouts. Default 1. */
  ppoEpochs?: number
  /** Rollouts per mini-batch (default: all of them). */
  miniBatchSize?: number
  /** Supervised warm start on oracle demonstrations (on for the tiny policy, off for a checkpoint unless steps is set). */
  warmStart?: WarmStartInput
  validation?: {
    /** Validate every this many RL steps (and at the last). Default 10. */
    every?: number
    /** Validation questions (greedy). Default 96. */
    questions?: number
  }
  /** Commit a checkpoint every this many RL steps (and at the last). Default 20. */
  checkpointEvery?: number
  /**
   * Metrics sinks, like verl's trainer.logger: 'jsonl' (metrics.jsonl, the run's record, always) and 'tensorboard'
   * (event files in outDir/tensorboard). Default ['jsonl'].
   */
  logger?: Array<'jsonl' | 'tensorboard'>
  /** HiExp (off: plain GRPO / GSPO); the paper's form by default. */
  experience?: ExperienceInput
}

export interface TaskInput {
  /**
   * 'world': the generated multi-hop world (embedded default); 'arithmetic': generated word problems with the world's
   * corpus behind the search tool; 'searchr1': files in Search-R1's (or verl's) layout. Default 'world'.
   */
  kind?: 'world' | 'arithmetic' | 'searchr1'
  /** Options of generateWorld (kinds 'world' and 'arithmetic': the corpus the search tool sees). */
  world?: WorldOptions
  /** Options of generateArithmetic (kind 'arithmetic'). */
  arithmetic?: ArithmeticOptions
  /** Train questions, parquet or JSONL (kind 'searchr1'; required there). */
  trainFile?: string
  validationFile?: string
  testFile?: string
  /** Corpus JSONL ({id, contents} per line) for a local BM25 index (kind 'searchr1' without retrieverUrl). */
  corpusFile?: string
  /** A Search-R1 retrieval server (`POST /retrieve`) instead of local BM25. */
  retrieverUrl?: string
}

export interface PolicyInput {
  /** A local Hugging Face checkpoint folder (Qwen2/2.5); without it a tiny policy is trained from scratch. */
  checkpoint?: string
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string
  /** Default 'float32' ('bfloat16' on a GPU). */
  dtype?: 'float32' | 'bfloat16' | 'float16'
  /** Size of the from-scratch policy. */
  tiny?: {
    /** Default 128. */
    hiddenSize?: number
    /** Default 352. */
    intermediateSize?: number
    /** Default 2. */
    numLayers?: number
    /** Default 4. */
    numHeads?: number
    /** Default 2. */
    numKvHeads?: number
  }
}

export interface RolloutInput {
  /** Prompt template with {question} and {experiences} slots (default: a short one for the from-scratch policy). */
  template?: string
  /**
   * The checkpoint's chat template around the prompt: 'none' (raw text), 'search-r1' (Search-R1's instruct format, the
   * prompt as one user message) or 'system' (instruction and experiences as the system message). Default by policy:
   * 'search-r1' with policy.checkpoint, else 'none'.
   */
  chat?: 'none' | 'search-r1' | 'system'
  /** Passages retrieved per search. Default 3. */
  topk?: number
  /** Generation turns per rollout; a search asked in the last turn ends the rollout. Default 4. */
  maxTurns?: number
  /** New tokens per turn. Default 24. */
  maxTurnTokens?: number
  /** Whole sequence (prompt + turns + information), never exceeded. Default 640. */
  maxTotalTokens?: number
  /** One <information> block, tags included; longer retrieved text is cut. Default 192. */
  maxInfoTokens?: number
  /** Sampling temperature (0: greedy). Default 1. */
  temperature?: number
  /** Nucleus sampling mass in (0, 1]. */
  topP?: number
  /** Keep the k most likely tokens (0: off). */
  topK?: number
  /** Base sampling seed; turn t samples with seed + t. */
  seed?: number
  /** DAPO's dynamic sampling: drop zero-variance groups and draw more questions (off when absent). */
  dynamicSampling?: {
    /** Rollout batches drawn per step at most, the first included (verl's max_num_gen_batches). Default 4. */
    maxDraws?: number
  }
}

export interface RewardInput {
  /** Outcome metric of the answer ('cem' is 'subem' under the paper's name). Default 'em'. */
  metric?: 'em' | 'f1' | 'subem' | 'cem'
  /** Weight of the outcome metric. Default 1. */
  answerWeight?: number
  /** Added when the rollout answered and every turn was well-formed. Default 0.1. */
  formatWeight?: number
  /** Format also requires a <think> block in every turn. Default false. */
  requireThink?: boolean
  /** Subtracted when the rollout ended malformed. Default 0.1. */
  malformedPenalty?: number
  /** coef × max(0, response tokens − freeTokens) is subtracted. */
  lengthPenalty?: { coef: number; freeTokens?: number }
  /** Subtracted per query that repeats an earlier query of the same rollout. Default 0. */
  repeatedQueryPenalty?: number
}

export interface LossInput {
  /** Lower clip ε (ratio ≥ 1 − clipLow). Default by algorithm: GRPO 0.2, GSPO 3e-4. */
  clipLow?: number
  /** Upper clip ε (ratio ≤ 1 + clipHigh; "clip-higher"). Default by algorithm: GRPO 0.2, GSPO 4e-4. */
  clipHigh?: number
  /** Dual clip c > 1 for negative advantages (off when absent). */
  dualClip?: number
  /** verl's loss aggregation. Default by algorithm: GRPO 'token-mean', GSPO 'seq-mean-token-mean'. */
  aggregation?: 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm'
  /** β of the KL to the frozen reference policy (the paper: 1e-3; 0: off). Default 1e-3. */
  klCoef?: number
  /** KL estimator. Default 'k3' (verl's low_var_kl). */
  klEstimator?: 'k1' | 'k2' | 'k3'
}

/** The policy's optimiser options (lib/model/policy.ts), with the run's own defaults where they differ. */
export interface OptimizerInput extends OptimizerOptions {
  /** Peak learning rate. Default by policy: 3e-4 tiny, 1e-6 checkpoint. */
  lr?: number
  /** Linear warm-up steps. Default 2. */
  warmupSteps?: number
}

export interface WarmStartInput {
  /** Supervised steps. Default by policy: 150 tiny, 0 checkpoint. */
  steps?: number
  /** Demonstrations per step. Default 16. */
  batchSize?: number
  /** Learning rate. Default by policy: 2e-3 tiny, 1e-5 checkpoint. */
  lr?: number
  /** Share of the train questions used for demonstrations. Default 0.5. */
  questionShare?: number
  /** Share of the demonstrations whose prompt carries experiences from experience.hekFile. Default 0. */
  experienceShare?: number
  /** Share of the demonstrations without experiences that stop the chain early. Default 0. */
  flawedShare?: number
  /**
   * With task.world.phrasings (the bottleneck world): share of the demonstrations that ask one hop by a word reserved
   * for the warm start and carry the advice naming its query word; the others have an empty slot. Default 0.5.
   */
  adviceShare?: number
  /** With task.world.phrasings: demonstrations per warm-start question, each with its own phrasings. Default 1. */
  variants?: number
}

export interface ExperienceInput {
  /** HiExp on (off: plain GRPO / GSPO). Default false. */
  enabled?: boolean
  /** Share of each group's rollouts sampled with the HEK (ρ; 1 = every rollout, the paper). Default 1. */
  guidedFraction?: number
  /** 'paper' (default): trained as sampled; 'internalize' (hiexp's): scored behind the experience-free prompt. */
  variant?: 'paper' | 'internalize'
  /** Internalisation's alignment set alone (score guided rollouts behind the experience-free prompt). */
  alignToExperienceFree?: boolean
  /** Internalisation's KL coefficient towards the experience-conditioned distribution (0.01 with 'internalize'). */
  regularizerCoef?: number
  /** A HEK file to use (read only); without it one is built from the warm-started policy's rollouts. */
  hekFile?: string
  /**
   * Where an OpenAI-compatible embedder recorded in a HEK file is reached, with the only key sent to it: the file's own
   * URL is never used.
   */
  embeddingEndpoint?: { baseURL: string; apiKey?: string }
  /** E2/E3 experiences in the system prompt (the paper: 5). */
  promptTopK?: number
  /**
   * Least cosine similarity of the question and an E2/E3 title for it to enter the prompt (-1: always the top
   * promptTopK). Below it the slot holds fewer lines, or none. Default 0.3.
   */
  promptMinSimilarity?: number
  /** Tokens of prompt experience at most. Default 96. */
  tokenBudget?: number
  /** Return the best E1 with the documents of a search call (the paper's second injection point). Default true. */
  searchInjection?: boolean
  /** Least cosine similarity of a search query and an E1 title (the paper: 0.8). */
  searchMinSimilarity?: number
  /** Ward cut heights τ1 (E1 → E2) and τ2 (E2 → E3) of the HEK built by the run. */
  thresholds?: number[]
  /** Rebuild the HEK every this many steps (0: static, as in the paper). Default 0. */
  refreshEvery?: number
  /** Evaluate with the HEK too (the method's number; the HEK-free number is always reported). Default true. */
  evaluateWithExperience?: boolean
  /** Who distils experiences: the offline analyzer, the policy itself, or an LLM endpoint. Default 'offline'. */
  distiller?: 'offline' | 'self' | 'llm'
  /** OpenAI-compatible endpoint of the 'llm' distiller. */
  llm?: { baseURL: string; model: string; apiKey?: string }
  /** Questions sampled to build the first HEK. Default 96. */
  buildQuestions?: number
  /** Rollouts per question for the first HEK. Default 5. */
  buildGroupSize?: number
}
