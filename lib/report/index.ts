export { writeFileAtomic } from './atomic.js'
export { chartSvg, writeChart, type ChartSpec } from './charts.js'
export { MetricsLog, readMetrics, type MetricsRow } from './metrics.js'
export { progress, type Progress } from './progress.js'
