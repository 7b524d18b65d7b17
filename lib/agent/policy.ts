// The rollout loop's view of a policy is the model's generation contract; one definition, in lib/model.
export type { TokenizerLike, GenerateOptions, Generation, GenerationPolicy } from '../model/generation.js'
