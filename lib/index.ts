export { info, setThreads, type RuntimeInfo } from './info.js'
