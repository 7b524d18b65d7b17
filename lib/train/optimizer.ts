// The policy optimiser's options (AdamW + schedule) as a zod schema, so that a run configuration checks them with the
// rest of the config, before any work, instead of the native binding refusing them after the warm start.
import { z } from 'zod'
import type { OptimizerOptions } from '../model/policy.js'
import type { Same } from '../util/same_type.js'

// The ranges are the native binding's (native/train/adamw.cc), checked here first so that the error names the config path.
export const OptimizerOptionsSchema = z
  .object({
    /** Peak learning rate (a run's default depends on the policy: see TRAIN_DEFAULTS in config.ts). */
    lr: z.number().gt(0).finite().optional(),
    beta1: z.number().min(0).lt(1).optional(),
    beta2: z.number().min(0).lt(1).optional(),
    eps: z.number().gt(0).optional(),
    weightDecay: z.number().min(0).optional(),
    warmupSteps: z.number().int().min(0).optional(),
    schedule: z.enum(['constant', 'cosine']).optional(),
    totalSteps: z.number().int().min(1).optional(),
    minLrRatio: z.number().min(0).max(1).optional(),
    maxGradNorm: z.number().min(0).optional(),
    microBatchSize: z.number().int().min(1).optional(),
    microBatchTokens: z.number().int().min(1).optional(),
  })
  .strict()

// The schema and Policy's OptimizerOptions must describe the same object: this fails to compile when they drift apart.
const optimizerSchemaMatchesPolicy: Same<Required<z.output<typeof OptimizerOptionsSchema>>, Required<OptimizerOptions>> = true
void optimizerSchemaMatchesPolicy
