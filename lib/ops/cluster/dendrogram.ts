// Dendrogram export: scipy's leaf order and a picture (SVG; PNG through @resvg/resvg-js when it is installed).
import { describe, readTree } from './tree.js'

/** Leaves in the order scipy's `dendrogram(Z)` draws them (= `leaves_list(Z)`: pre-order, left child first). */
export function leafOrder(Z: Float64Array, n: number): Int32Array {
  const t = readTree(Z, n)
  const out = new Int32Array(n)
  const stack = [2 * n - 2]
  let m = 0
  while (stack.length > 0) {
    const node = stack.pop() as number
    if (node < n) {
      out[m++] = node
      continue
    }
    stack.push(t.right[node - n], t.left[node - n])
  }
  return out
}

export interface DendrogramOptions {
  /** Leaf labels (default: the point indices). */
  labels?: readonly string[]
  width?: number
  height?: number
  title?: string
  /** Draws a dashed line at this height (for example a cut of cutTree/levels). */
  cutAt?: number
}

/** Most leaves a dendrogram picture is drawn for (one labelled column each). */
export const MAX_DENDROGRAM_LEAVES = 2000

/** An SVG picture of the dendrogram (for small n: every leaf is labelled). */
export function dendrogramSvg(Z: Float64Array, n: number, options: DendrogramOptions = {}): string {
  const t = readTree(Z, n)
  if (n > MAX_DENDROGRAM_LEAVES) throw new RangeError(`n must be at most ${MAX_DENDROGRAM_LEAVES} for a dendrogram picture, got ${n}`)
  const labels = options.labels ?? Array.from({ length: n }, (_, i) => String(i))
  if (!Array.isArray(labels) || labels.length !== n) {
    throw new RangeError(`options.labels must be an array of n = ${n} strings, got ${describe(labels)} of length ${(labels as unknown[]).length}`)
  }
  const width = options.width ?? Math.max(320, 24 + n * 14)
  const height = options.height ?? 360
  const margin = { left: 56, right: 16, top: options.title ? 36 : 16, bottom: 64 }
  const order = leafOrder(Z, n)
  const x = new Float64Array(2 * n - 1)
  const y = new Float64Array(2 * n - 1)
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  order.forEach((leaf, p) => {
    x[leaf] = margin.left + (plotW * (p + 0.5)) / n
  })
  const top = Math.max(...t.height, 0) || 1
  const yOf = (h: number) => margin.top + plotH * (1 - h / top)
  for (let i = 0; i < n; i++) y[i] = yOf(0)
  const paths: string[] = []
  for (let k = 0; k < n - 1; k++) {
    const a = t.left[k]
    const b = t.right[k]
    const h = yOf(t.height[k])
    x[n + k] = (x[a] + x[b]) / 2
    y[n + k] = h
    paths.push(`M${f(x[a])},${f(y[a])}V${f(h)}H${f(x[b])}V${f(y[b])}`)
  }
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ]
  if (options.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(options.title)}</text>`)
  // Height axis with five ticks.
  parts.push(`<path d="M${margin.left - 6},${f(yOf(0))}V${f(yOf(top))}" stroke="#444" fill="none"/>`)
  for (let i = 0; i <= 4; i++) {
    const h = (top * i) / 4
    parts.push(`<text x="${margin.left - 10}" y="${f(yOf(h) + 4)}" text-anchor="end">${Number(h.toPrecision(3))}</text>`)
  }
  parts.push(`<path d="${paths.join('')}" stroke="#1f5fa8" stroke-width="1.2" fill="none"/>`)
  if (options.cutAt !== undefined) {
    parts.push(`<path d="M${margin.left},${f(yOf(options.cutAt))}H${width - margin.right}" stroke="#c0392b" stroke-dasharray="4 3"/>`)
  }
  order.forEach((leaf) => {
    const lx = f(x[leaf])
    const ly = f(yOf(0) + 8)
    parts.push(`<text x="${lx}" y="${ly}" transform="rotate(60 ${lx} ${ly})">${esc(labels[leaf])}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}

/** The same picture as PNG bytes, rendered by @resvg/resvg-js (an optional dependency: install it to use this). */
export async function dendrogramPng(Z: Float64Array, n: number, options: DendrogramOptions = {}): Promise<Uint8Array> {
  const svg = dendrogramSvg(Z, n, options)
  let Resvg: new (svg: string, opts?: object) => { render(): { asPng(): Uint8Array } }
  try {
    ;({ Resvg } = await import('@resvg/resvg-js'))
  } catch {
    throw new Error('hiexp: dendrogramPng needs @resvg/resvg-js: npm install @resvg/resvg-js')
  }
  return new Uint8Array(new Resvg(svg, { background: 'white', font: { loadSystemFonts: true } }).render().asPng())
}

function f(v: number): string {
  return v.toFixed(2)
}
