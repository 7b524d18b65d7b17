export type { TokenizerLike, GenerateOptions, Generation, GenerationPolicy } from './policy.js'
export {
  DEFAULT_TEMPLATE,
  SEARCH_R1_TEMPLATE,
  renderPrompt,
  formatPassages,
  promptVocabularyTexts,
  INFO_OPEN,
  INFO_CLOSE,
  STOP_STRINGS,
  type PromptSlots,
} from './prompt.js'
export { parseAction, turnFormat, type Action } from './tags.js'
export {
  runRollouts,
  packRollouts,
  withPrompt,
  experienceFree,
  trajectoryText,
  parseRolloutOptions,
  RolloutOptionsSchema,
  type RolloutOptions,
  type ResolvedRolloutOptions,
  type RolloutRequest,
  type Rollout,
  type Turn,
  type FinishReason,
  type RolloutBatch,
  type RolloutTiming,
} from './rollout.js'
export {
  normalizeAnswer,
  exactMatch,
  substringMatch,
  f1Score,
  makeReward,
  computeReward,
  parseRewardConfig,
  RewardConfigSchema,
  type RewardConfig,
  type ResolvedRewardConfig,
  type RewardParts,
  type RewardInput,
} from './reward.js'
export {
  generateDemonstrations,
  oracleTurns,
  OraclePolicy,
  RELATION_QUERY_WORDS,
  type DemonstrationOptions,
} from './demonstrations.js'
export { evaluateRollouts, type Evaluation, type RolloutSummary } from './evaluate.js'
