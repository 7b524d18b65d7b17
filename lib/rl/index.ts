export * from './types.js'
export { groupAdvantages, groupAdvantagesTorch, broadcastAdvantages } from './advantages.js'
export { policyLoss, policyLossTorch } from './policy_loss.js'
export * as reference from './reference.js'
