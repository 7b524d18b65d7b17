export { readDistEnv, DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT, type DistEnv } from './env.js'
export {
  initProcessGroup,
  getProcessGroup,
  isMainRank,
  distBackends,
  shard,
  ProcessGroup,
  DEFAULT_TIMEOUT_MS,
  type InitProcessGroupOptions,
  type DistBackend,
  type ReduceOp,
  type CollectiveArray,
} from './group.js'
export { launch, freePort, type LaunchOptions, type LaunchResult, type RankExit } from './launch.js'
export { launchMain, parseLaunchArgs, LAUNCH_USAGE } from './launch_cli.js'
