// Charts as files people look at: a Vega-Lite spec rendered to SVG (vega, pure JS) and PNG (resvg).
import { Resvg } from '@resvg/resvg-js'
import * as vega from 'vega'
import * as vegaLite from 'vega-lite'
import { writeFileAtomic } from '../util/atomic.js'

export type ChartSpec = vegaLite.TopLevelSpec

/** Renders a Vega-Lite spec to an SVG string. */
export async function chartSvg(spec: ChartSpec): Promise<string> {
  const compiled = vegaLite.compile({ background: 'white', ...spec } as ChartSpec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** Writes `<base>.svg` and `<base>.png` (2x scale) atomically; returns both paths. */
export async function writeChart(spec: ChartSpec, base: string): Promise<{ svg: string; png: string }> {
  const svg = await chartSvg(spec)
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true } }).render().asPng()
  writeFileAtomic(`${base}.svg`, svg)
  writeFileAtomic(`${base}.png`, png)
  return { svg: `${base}.svg`, png: `${base}.png` }
}
