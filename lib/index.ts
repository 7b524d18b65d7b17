export { info, setThreads, type RuntimeInfo } from './info.js'
export * from './cluster/index.js'
