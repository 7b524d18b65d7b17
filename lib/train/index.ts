export { TrainConfigSchema, DISTILLERS, parseTrainConfig, loadTrainConfig, type TrainConfig, type ResolvedTrainConfig } from './config.js'
export { loadTask, initialPolicy, type Task } from './task.js'
export { Trainer } from './trainer.js'
