/**
 * Looking at a HEK: a text tree (what `hiexp hek show` prints) and pictures — the hierarchy as a layered tree with
 * each node's summary, and the tips' dendrogram with the level cuts — as SVG, and PNG through resvg.
 */
import { Resvg } from '@resvg/resvg-js'
import { dendrogramSvg } from '../ops/cluster/dendrogram.js'
import { writeFileAtomic } from '../util/atomic.js'
import type { HekNode, HierarchicalExperience } from './hek.js'
import { stripControls } from './sanitize.js'

export interface FormatOptions {
  /** Children shown per node (the rest are counted); default all. */
  maxChildren?: number
  /** Deepest level printed (0 = down to the tips, the default). */
  minLevel?: number
  /** Cut texts to this many characters (default 160). */
  width?: number
}

const pct = (x: number) => `${Math.round(x * 100)}%`
const mark = (n: HekNode) => (n.kind === 'success-pattern' ? '+' : n.kind === 'failure-pattern' ? '-' : '*')

/** The HEK as an indented text tree, top level first. */
export function formatHek(hek: HierarchicalExperience, options: FormatOptions = {}): string {
  const f = hek.file
  const width = options.width ?? 160
  const minLevel = options.minLevel ?? 0
  const cut = (s: string) => (s.length > width ? `${s.slice(0, width - 1)}…` : s)
  const plural = (w: string, k: number) => (k === 1 ? w : w.endsWith('y') ? `${w.slice(0, -1)}ies` : `${w}s`)
  const counts = f.levels.map((l) => `${l.nodes.length} ${plural(l.name, l.nodes.length)}`).join(', ')
  const cuts = f.levels.slice(1).map((l) => `${l.name} ≤ ${l.threshold?.toFixed(3)}`).join(', ')
  const lines = [
    `HEK v${f.version} (${f.createdAt}): ${counts}; embedder ${f.embedder.kind} (dim ${f.embedder.dim}); ${f.options.method} linkage, cosine${cuts ? `; cuts ${cuts}` : ''}; summaries ${f.options.summarizer}`,
  ]
  const b = f.build
  if (b.retrievalReplayed !== undefined) {
    const p = b.retrievalPrecision === undefined ? 'n/a' : pct(b.retrievalPrecision)
    lines.push(`retrieval precision ${p}: of ${b.retrievalReplayed} gold queries of the train split replayed, ${b.retrievalFired} got a case, ${b.retrievalPrecise} of the query's relation`)
  }
  const walk = (n: HekNode, depth: number) => {
    const pad = '  '.repeat(depth)
    const label = f.levels[n.level].name
    const terms = n.terms.length ? ` [${n.terms.join(', ')}]` : ''
    lines.push(`${pad}${mark(n)} ${label} ${n.id} (support ${round(n.support)}, success ${pct(n.successRate)}; when: ${n.when}): ${cut(n.text)}${terms}`)
    if (n.level <= minLevel) return
    const kids = n.children.map((id) => hek.node(id) as HekNode).sort((a, b) => b.support - a.support)
    const shown = options.maxChildren === undefined ? kids : kids.slice(0, options.maxChildren)
    for (const k of shown) walk(k, depth + 1)
    if (shown.length < kids.length) lines.push(`${pad}  … ${kids.length - shown.length} more`)
  }
  const tops = hek.level(f.levels.length - 1).slice().sort((a, b) => b.support - a.support)
  for (const t of tops) walk(t, 0)
  // Texts are cleaned when a HEK is loaded; this keeps a HEK built in memory from writing escapes to a terminal too.
  return stripControls(lines.join('\n'))
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}

// Control characters are not allowed in XML at all (an SVG holding one does not parse), so they are dropped first.
const esc = (s: string) => stripControls(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function wrap(text: string, chars: number, maxLines: number): string[] {
  const words = text.split(/\s+/)
  const lines: string[] = []
  let cur = ''
  for (const w of words) {
    if ((cur + ' ' + w).trim().length > chars && cur) {
      lines.push(cur)
      cur = w
    } else cur = (cur + ' ' + w).trim()
  }
  if (cur) lines.push(cur)
  if (lines.length > maxLines) {
    lines.length = maxLines
    lines[maxLines - 1] = `${lines[maxLines - 1].slice(0, chars - 1)}…`
  }
  return lines
}

export interface HekPictureOptions {
  /** Most tips drawn (the best supported; default 60). */
  maxTips?: number
  title?: string
}

/** The hierarchy as a layered tree: principles on top, tips at the bottom, each node with its text and support. */
export function hekTreeSvg(hek: HierarchicalExperience, options: HekPictureOptions = {}): string {
  const L = hek.levelCount
  const maxTips = options.maxTips ?? 60
  // Tips kept: the best supported, then everything above them.
  const keptTips = new Set(hek.level(0).slice().sort((a, b) => b.support - a.support).slice(0, maxTips).map((n) => n.id))
  const keep = new Set<string>(keptTips)
  for (const id of keptTips) {
    let p = hek.node(id)?.parent
    while (p) {
      keep.add(p)
      p = hek.node(p)?.parent ?? null
    }
  }
  // Leaf order: depth-first from the top level.
  const order: HekNode[] = []
  const visit = (n: HekNode) => {
    if (!keep.has(n.id)) return
    if (n.level === 0) return void order.push(n)
    for (const c of n.children) visit(hek.node(c) as HekNode)
  }
  for (const t of hek.level(L - 1)) visit(t)
  const colW = 120
  const rowH = 150
  const margin = 20
  const top = options.title ? 40 : 20
  const width = Math.max(640, margin * 2 + order.length * colW)
  const height = top + L * rowH + 60
  const x = new Map<string, number>()
  order.forEach((n, i) => x.set(n.id, margin + colW * (i + 0.5)))
  for (let l = 1; l < L; l++) {
    for (const n of hek.level(l)) {
      const xs = n.children.map((c) => x.get(c)).filter((v): v is number => v !== undefined)
      if (xs.length) x.set(n.id, xs.reduce((a, b) => a + b, 0) / xs.length)
    }
  }
  const y = (level: number) => top + (L - 1 - level) * rowH + 20
  const color = (n: HekNode) => (n.kind === 'success-pattern' ? '#2e7d32' : n.kind === 'failure-pattern' ? '#c62828' : '#1f5fa8')
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="9">`,
    '<rect width="100%" height="100%" fill="white"/>',
  ]
  if (options.title) parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${esc(options.title)}</text>`)
  for (let l = 0; l < L; l++) parts.push(`<text x="4" y="${y(l) - 8}" font-size="10" fill="#555">${esc(hek.file.levels[l].name)}</text>`)
  for (const n of hek.nodes) {
    if (!x.has(n.id) || n.parent === null || !x.has(n.parent)) continue
    const p = hek.node(n.parent) as HekNode
    parts.push(`<path d="M${x.get(n.id)!.toFixed(1)},${y(n.level)}L${x.get(p.id)!.toFixed(1)},${y(p.level) + 44}" stroke="#bbb" fill="none"/>`)
  }
  for (const n of hek.nodes) {
    const cx = x.get(n.id)
    if (cx === undefined) continue
    const lines = wrap(n.text, 22, 4)
    const bx = cx - colW / 2 + 4
    parts.push(`<rect x="${bx.toFixed(1)}" y="${y(n.level)}" width="${colW - 8}" height="44" rx="4" fill="white" stroke="${color(n)}"/>`)
    lines.forEach((line, i) => parts.push(`<text x="${(bx + 3).toFixed(1)}" y="${y(n.level) + 10 + i * 9}">${esc(line)}</text>`))
    parts.push(`<text x="${(bx + 3).toFixed(1)}" y="${y(n.level) + 56}" fill="#555">n=${round(n.support)} ok=${pct(n.successRate)}</text>`)
  }
  parts.push('</svg>')
  return parts.join('\n')
}

/** The tips' dendrogram (from the stored linkage) with the level cuts' heights as dashed lines. */
export function hekDendrogramSvg(hek: HierarchicalExperience, options: { title?: string } = {}): string {
  const tips = hek.level(0)
  const n = tips.length
  if (n < 2) throw new RangeError('a dendrogram needs at least 2 tips')
  const Z = Float64Array.from(hek.file.linkage)
  const labels = tips.map((t) => stripControls(t.text)).map((t) => (t.length > 28 ? `${t.slice(0, 27)}…` : t))
  const size = { width: Math.max(480, 60 + n * 22), height: 520 }
  let svg = dendrogramSvg(Z, n, { labels, ...size, ...(options.title && { title: options.title }) })
  // Extra cut lines for the upper levels (dendrogramSvg draws one; redraw with each threshold is simplest as overlay).
  const cuts = hek.file.levels.slice(1).map((l) => l.threshold).filter((t): t is number => t !== null)
  if (cuts.length) {
    const one = cuts.map((t) => dendrogramSvg(Z, n, { labels, ...size, cutAt: t, ...(options.title && { title: options.title }) }))
    const lines = one.map((s) => /<path d="[^"]*" stroke="#c0392b"[^>]*\/>/.exec(s)?.[0] ?? '').join('\n')
    svg = svg.replace('</svg>', `${lines}\n</svg>`)
  }
  // Room below the plot for the rotated labels (the shared dendrogram keeps a short bottom margin).
  const extra = 90
  return svg
    .replace(`width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}"`, `width="${size.width + extra}" height="${size.height + extra}" viewBox="0 0 ${size.width + extra} ${size.height + extra}"`)
}

/** Writes `<base>-tree.svg/.png` and, with 2+ tips, `<base>-dendrogram.svg/.png`; returns the paths. */
export function writeHekPictures(hek: HierarchicalExperience, base: string, options: HekPictureOptions = {}): string[] {
  const out: string[] = []
  const write = (name: string, svg: string) => {
    writeFileAtomic(`${base}-${name}.svg`, svg)
    const png = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true } }).render().asPng()
    writeFileAtomic(`${base}-${name}.png`, png)
    out.push(`${base}-${name}.svg`, `${base}-${name}.png`)
  }
  write('tree', hekTreeSvg(hek, options))
  if (hek.level(0).length >= 2) write('dendrogram', hekDendrogramSvg(hek, options.title ? { title: options.title } : {}))
  return out
}
