export { writeFileAtomic } from './atomic.js'
export { chartSvg, writeChart, type ChartSpec } from './charts.js'
