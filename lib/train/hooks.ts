// What a user can plug into a run besides its configuration (Trainer.create's options), like verl's custom reward
// function: a reward computed from the rollout, and the retriever behind the search tool.
import type { RewardParts } from '../agent/reward.js'
import type { Rollout } from '../agent/rollout.js'
import { trajectoryText } from '../agent/rollout.js'
import type { QaExample } from '../env/types.js'

/** What a reward function sees of one rollout (verl's compute_score(data_source, solution_str, ground_truth, extra_info)). */
export interface RewardFunctionInput {
  /** The question's data_source (the file's name when the data has none). */
  dataSource: string
  /** What the policy generated and was shown after its prompt: its turns and the inserted <information> blocks. */
  solution: string
  /** The content of its <answer> … </answer>, or null. */
  answer: string | null
  /** The question's gold answers (reward_model.ground_truth). */
  groundTruth: readonly string[]
  question: QaExample
  rollout: Rollout
  /** The built-in reward's parts (reward block of the config), for a function that adjusts them. */
  builtIn: Readonly<RewardParts>
}

/** Returns the rollout's reward (a finite number): it replaces the built-in `total`; EM/F1/CEM are still reported. */
export type RewardFunction = (input: RewardFunctionInput) => number | Promise<number>

/** The reward parts of a rollout with a user's reward function applied (checked: a finite number). */
export async function applyRewardFunction(fn: RewardFunction, rollout: Rollout, question: QaExample, builtIn: RewardParts): Promise<RewardParts> {
  const solution = trajectoryText(rollout).slice(rollout.prompt.length)
  const total = await fn({ dataSource: question.dataSource, solution, answer: rollout.answer, groundTruth: question.goldAnswers, question, rollout, builtIn })
  if (typeof total !== 'number' || !Number.isFinite(total)) {
    throw new TypeError(`Trainer: the reward function returned ${typeof total === 'number' ? total : typeof total} for question ${question.id}; expected a finite number`)
  }
  return { ...builtIn, total }
}
