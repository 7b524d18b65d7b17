export { chartSvg, writeChart, type ChartSpec } from './charts.js'
export { MetricsLog, readMetrics, type MetricsRow } from './metrics.js'
export { progress, type Progress } from './progress.js'
export { plotTraining, type RunCurves } from './training_plot.js'
