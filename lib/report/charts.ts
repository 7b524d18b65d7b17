// Charts as files people look at: a Vega-Lite spec rendered to SVG (vega, pure JS) and PNG (resvg).
import { Resvg } from '@resvg/resvg-js'
import type { TopLevelSpec } from 'vega-lite'
import { writeFileAtomic } from '../util/atomic.js'

export type ChartSpec = TopLevelSpec

/** Renders a Vega-Lite spec to an SVG string. */
export async function chartSvg(spec: ChartSpec): Promise<string> {
  // Loaded on first use: vega's canvas probe is a top-level await, which would make the whole package an async ES
  // module graph that CommonJS consumers cannot require().
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')])
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
