export { chartSvg, writeChart, type ChartSpec } from './charts.js'
export {
  MetricsLog,
  readMetrics,
  type MetricsRow,
  type MetricsSink,
  type MetricValue,
  type RlMetrics,
  type ValidationMetrics,
  type WarmStartMetrics,
  type HekMetrics,
} from './metrics.js'
export { progress, etaText, type Progress } from './progress.js'
export { plotTraining, EM_LABEL, EM_WITH_HEK_LABEL, type RunCurves } from './training_plot.js'
export { TensorBoardWriter, readEventFile, maskedCrc32c, type TensorBoardEvent } from './tensorboard.js'
