export { info, setThreads, type RuntimeInfo } from './info.js'
export * from './rl/index.js'
export * from './model/index.js'
