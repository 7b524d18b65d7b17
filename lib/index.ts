export { info, setThreads, type RuntimeInfo } from './info.js'
export * from './env/index.js'
export * from './search/index.js'
export * from './agent/index.js'
