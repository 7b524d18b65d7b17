export type { TokenizerLike, GenerateOptions, Generation, GenerationPolicy } from './generation.js'
export { configFromHf, configToHf, tinyConfig, parameterCount, checkConfigFitsMemory, type Qwen2Config } from './config.js'
export {
  Tokenizer,
  buildWordLevelTokenizer,
  wordLevelTokenizerConfig,
  WORD_LEVEL_SPECIAL_TOKENS,
  type WordLevelOptions,
  type ChatMessage,
  type TokenizerJson,
} from './tokenizer.js'
export {
  Policy,
  padBatch,
  type PolicyOptions,
  type PolicyDtype,
  type OptimizerOptions,
  type RlBatch,
  type SftBatch,
  type TrainStats,
  type ScoreResult,
} from './policy.js'
