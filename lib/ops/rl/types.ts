// The kernel API's data shapes. They are the native contract, so they are declared once, beside the typed binding
// (lib/native/binding.ts), and re-exported here under the public names.
export type {
  AdvantageEstimator,
  GroupAdvantageOptions,
  KlEstimator,
  LossAggregation,
  PolicyLossAlgorithm,
  PolicyLossBatch,
  PolicyLossOptions,
  PolicyLossResult,
} from '../../native/binding.js'
