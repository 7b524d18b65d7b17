export {
  TrainConfigSchema,
  DISTILLERS,
  LOGGERS,
  CLIP_DEFAULTS,
  ADAMW_DEFAULTS,
  parseTrainConfig,
  loadTrainConfig,
  effectiveConfig,
  type TrainConfig,
  type ResolvedTrainConfig,
} from './config.js'
export type {
  TrainConfigInput,
  TaskInput,
  PolicyInput,
  RolloutInput,
  RewardInput as RewardConfigInput,
  LossInput,
  OptimizerInput,
  WarmStartInput,
  ExperienceInput,
} from './config_input.js'
export { loadTask, initialPolicy, type Task, type LoadTaskOptions } from './task.js'
export { Trainer, methodName, validationSummary, type TrainerCreateOptions, type RunOptions, type RunResult } from './trainer.js'
export { type RewardFunction, type RewardFunctionInput } from './hooks.js'
