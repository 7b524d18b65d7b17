export * from './types.js'
export { groupAdvantages, broadcastAdvantages } from './advantages.js'
export { policyLoss, policyLossTorch } from './policy_loss.js'
export * as reference from './reference.js'
