// Training curves from one or more metrics.jsonl files: validation EM (with and without the HEK for HiExp runs) and
// mean reward over steps.
import { readMetrics } from './metrics.js'
import { writeChart } from './charts.js'

export interface RunCurves {
  /** Legend name of the run (the method: 'grpo', 'hiexp-grpo', …). */
  name: string
  metricsFile: string
}

/** What a validation curve measures, as the legend names it. */
export const EM_LABEL = 'EM'
export const EM_WITH_HEK_LABEL = 'EM with HEK'

/**
 * Writes `<base>.svg` and `<base>.png`: validation EM (left; a HiExp run also with its HEK, dashed: the method's own
 * number) and training reward (right) against RL step. Runs that share a name (seeds of one method) are drawn as their
 * mean.
 */
export async function plotTraining(runs: readonly RunCurves[], base: string, title = 'hiexp training'): Promise<{ svg: string; png: string }> {
  const values = runs.flatMap(({ name, metricsFile }) =>
    readMetrics(metricsFile).flatMap((r) => {
      if (r.phase === 'validation') {
        const out = [{ run: name, measure: EM_LABEL, step: r.step, panel: 'validation EM (greedy)', value: r.em }]
        if (typeof r.emWithExperience === 'number') out.push({ run: name, measure: EM_WITH_HEK_LABEL, step: r.step, panel: 'validation EM (greedy)', value: r.emWithExperience })
        return out
      }
      if (r.phase === 'rl') return [{ run: name, measure: 'reward', step: r.step, panel: 'training reward (mean)', value: r.rewardMean }]
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
          y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: null },
          color: { field: 'run', type: 'nominal', title: 'method' },
          strokeDash: { field: 'measure', type: 'nominal', title: 'measure', sort: [EM_LABEL, EM_WITH_HEK_LABEL, 'reward'] },
        },
      },
      resolve: { scale: { y: 'independent' } },
    },
    base,
  )
}
