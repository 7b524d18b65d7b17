// Training curves from one or more metrics.jsonl files: validation EM and mean reward over steps.
import { readMetrics } from './metrics.js'
import { writeChart } from './charts.js'

export interface RunCurves {
  /** Legend name of the run. */
  name: string
  metricsFile: string
}

/** Writes `<base>.svg` and `<base>.png`: validation EM (left) and training reward (right) against RL step. */
export async function plotTraining(runs: readonly RunCurves[], base: string, title = 'hiexp training'): Promise<{ svg: string; png: string }> {
  const values = runs.flatMap(({ name, metricsFile }) =>
    readMetrics(metricsFile).flatMap((r) => {
      if (r.phase === 'validation') return [{ run: name, step: r.step, panel: 'validation EM (greedy)', value: r.em }]
      if (r.phase === 'rl') return [{ run: name, step: r.step, panel: 'training reward (mean)', value: r.rewardMean }]
      return []
    }),
  )
  if (values.length === 0) throw new Error(`plotTraining: no rl or validation rows in ${runs.map((r) => r.metricsFile).join(', ')}`)
  return writeChart(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title,
      data: { values },
      facet: { column: { field: 'panel', type: 'nominal', title: null } },
      spec: {
        width: 320,
        height: 220,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'RL step' },
          y: { field: 'value', type: 'quantitative', title: null },
          color: { field: 'run', type: 'nominal' },
        },
      },
      resolve: { scale: { y: 'independent' } },
    },
    base,
  )
}
