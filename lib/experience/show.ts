/**
 * Looking at a HEK: a text tree (what `hiexp hek show` prints) and pictures — the hierarchy as a layered tree with
 * each node's summary, and the tips' dendrogram with the level cuts — as SVG, and PNG through resvg.
 */
import { Resvg } from '@resvg/resvg-js'
import { dendrogramSvg, MAX_DENDROGRAM_LEAVES } from '../ops/cluster/dendrogram.js'
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
  /** Most cases drawn (the best supported, with everything above them; default 10, which fits a screen). */
  maxTips?: number
  title?: string
  /** Where a line about a skipped picture goes (default: stderr). */
  log?: (line: string) => void
}

/**
 * Labels that show what differs: the words every text of the set starts with (the distillers' shared lead-in, "For
 * this question, the successful attempt first searched …") are cut and marked with "…", once at least two texts share
 * three or more leading words. A text that is all prefix keeps its whole text.
 */
export function distinctLabels(texts: readonly string[]): string[] {
  const words = texts.map((t) => stripControls(t).split(/\s+/).filter(Boolean))
  if (words.length < 2) return words.map((w) => w.join(' '))
  let common = 0
  while (words.every((w) => common < w.length - 1 && w[common] === words[0][common])) common++
  if (common < 3) return words.map((w) => w.join(' '))
  return words.map((w) => `… ${w.slice(common).join(' ')}`)
}

/** A node's label: its title (the matching key) when it has one, else its text. */
const labelText = (n: HekNode) => (n.title && n.title.trim() !== '' ? n.title : n.text)

// Border colours by kind, with the legend's words.
const KIND_COLOURS: Array<[HekNode['kind'], string, string]> = [
  ['success-pattern', '#2e7d32', 'from successful rollouts (do this)'],
  ['failure-pattern', '#c62828', 'from failed rollouts (avoid this)'],
  ['principle', '#1f5fa8', 'principle (both)'],
]
const colourOf = (n: HekNode) => KIND_COLOURS.find(([k]) => k === n.kind)?.[1] ?? '#1f5fa8'

/** The hierarchy as a layered tree: strategies on top, cases at the bottom, each node with its label and support. */
export function hekTreeSvg(hek: HierarchicalExperience, options: HekPictureOptions = {}): string {
  const L = hek.levelCount
  const maxTips = options.maxTips ?? 10
  const tips = hek.level(0)
  // Tips kept: the best supported, then everything above them.
  const keptTips = new Set(tips.slice().sort((a, b) => b.support - a.support).slice(0, maxTips).map((n) => n.id))
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
  // Labels by level, with each level's shared lead-in cut.
  const label = new Map<string, string>()
  for (let l = 0; l < L; l++) {
    const nodes = hek.level(l).filter((n) => keep.has(n.id))
    distinctLabels(nodes.map(labelText)).forEach((text, i) => label.set(nodes[i].id, text))
  }
  const colW = 150
  const boxH = 74
  const rowH = 130
  const margin = 24
  const top = (options.title ? 44 : 20) + 34 // the legend's row
  const width = Math.max(900, margin * 2 + 70 + order.length * colW)
  const height = top + L * rowH + 40
  const x = new Map<string, number>()
  order.forEach((n, i) => x.set(n.id, margin + 70 + colW * (i + 0.5)))
  for (let l = 1; l < L; l++) {
    for (const n of hek.level(l)) {
      const xs = n.children.map((c) => x.get(c)).filter((v): v is number => v !== undefined)
      if (xs.length) x.set(n.id, xs.reduce((a, b) => a + b, 0) / xs.length)
    }
  }
  const y = (level: number) => top + (L - 1 - level) * rowH + 10
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
  ]
  if (options.title) parts.push(`<text x="${width / 2}" y="26" text-anchor="middle" font-size="16">${esc(options.title)}</text>`)
  // Legend: what the border colours mean, and what is left out.
  const legendY = top - 26
  let lx = margin
  for (const [, colour, words] of KIND_COLOURS) {
    parts.push(`<rect x="${lx}" y="${legendY - 10}" width="14" height="12" rx="2" fill="white" stroke="${colour}" stroke-width="2"/>`)
    parts.push(`<text x="${lx + 20}" y="${legendY}">${esc(words)}</text>`)
    lx += 28 + words.length * 6.2
  }
  const shown = tips.length > order.length ? `${order.length} of ${tips.length} cases shown (best supported; all: hiexp hek show)` : `${tips.length} cases`
  parts.push(`<text x="${lx + 10}" y="${legendY}" fill="#555">n = support, ok = success rate · ${esc(shown)}</text>`)
  for (let l = 0; l < L; l++) {
    const name = hek.file.levels[l].name
    parts.push(`<text x="${margin}" y="${y(l) + boxH / 2}" font-size="12" font-weight="bold" fill="#555">E${Math.min(l + 1, 3)} ${esc(name)}</text>`)
  }
  for (const n of hek.nodes) {
    if (!x.has(n.id) || n.parent === null || !x.has(n.parent)) continue
    const p = hek.node(n.parent) as HekNode
    parts.push(`<path d="M${x.get(n.id)!.toFixed(1)},${y(n.level)}L${x.get(p.id)!.toFixed(1)},${y(p.level) + boxH + 14}" stroke="#bbb" fill="none"/>`)
  }
  for (const n of hek.nodes) {
    const cx = x.get(n.id)
    if (cx === undefined) continue
    const lines = wrap(label.get(n.id) ?? labelText(n), 24, 5)
    const bx = cx - colW / 2 + 4
    parts.push(`<rect x="${bx.toFixed(1)}" y="${y(n.level)}" width="${colW - 8}" height="${boxH}" rx="4" fill="white" stroke="${colourOf(n)}" stroke-width="1.5"/>`)
    lines.forEach((line, i) => parts.push(`<text x="${(bx + 4).toFixed(1)}" y="${y(n.level) + 14 + i * 13}">${esc(line)}</text>`))
    parts.push(`<text x="${(bx + 4).toFixed(1)}" y="${y(n.level) + boxH + 12}" fill="#555" font-size="10">n=${round(n.support)} ok=${pct(n.successRate)}</text>`)
  }
  parts.push('</svg>')
  return parts.join('\n')
}

/** The cases' dendrogram (from the stored linkage) with each level's cut τ as a labelled dashed line. */
export function hekDendrogramSvg(hek: HierarchicalExperience, options: { title?: string } = {}): string {
  const tips = hek.level(0)
  const n = tips.length
  if (n < 2) throw new RangeError('a dendrogram needs at least 2 tips')
  const Z = Float64Array.from(hek.file.linkage)
  const labels = distinctLabels(tips.map(labelText)).map((t) => (t.length > 28 ? `${t.slice(0, 27)}…` : t))
  const size = { width: Math.min(1600, Math.max(640, 90 + n * 18)), height: 560 }
  let svg = dendrogramSvg(Z, n, { labels, ...size, ...(options.title && { title: options.title }) })
  const plural = (w: string) => (w.endsWith('y') ? `${w.slice(0, -1)}ies` : `${w}s`)
  const cuts = hek.file.levels.slice(1).map((l, i) => ({ t: l.threshold, name: `τ${i + 1} = ${l.threshold?.toFixed(2)} (${plural(hek.file.levels[i]!.name)} → ${plural(l.name)})` }))
  const overlay: string[] = []
  for (const { t, name } of cuts) {
    if (t === null) continue
    const line = /<path d="M([\d.]+),([\d.]+)H([\d.]+)" stroke="#c0392b"[^>]*\/>/.exec(dendrogramSvg(Z, n, { labels, ...size, cutAt: t }))
    if (!line) continue
    overlay.push(line[0], `<text x="${line[3]}" y="${Number(line[2]) - 4}" text-anchor="end" fill="#c0392b">${esc(name)}</text>`)
  }
  // Axis titles and the leaves' legend (the shared dendrogram draws ticks and leaves only).
  overlay.push(
    `<text x="14" y="${size.height / 2}" transform="rotate(-90 14 ${size.height / 2})" text-anchor="middle" fill="#444">Ward merge height (cosine space)</text>`,
    `<text x="${size.width / 2}" y="${size.height + 120}" text-anchor="middle" fill="#444">E1 cases (titles; a shared lead-in is cut to …)</text>`,
  )
  svg = svg.replace('</svg>', `${overlay.join('\n')}\n</svg>`)
  // Room below the plot for the rotated labels (the shared dendrogram keeps a short bottom margin).
  const extra = 130
  return svg.replace(
    `width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}"`,
    `width="${size.width + extra}" height="${size.height + extra}" viewBox="0 0 ${size.width + extra} ${size.height + extra}"`,
  )
}

/**
 * Writes `<base>-tree.svg/.png` and, with 2 to MAX_DENDROGRAM_LEAVES tips, `<base>-dendrogram.svg/.png`; returns the
 * paths. Pictures are a view of the HEK, never a reason to fail: one that cannot be drawn (too many tips for a
 * dendrogram, a renderer error) is skipped with a line saying why.
 */
export function writeHekPictures(hek: HierarchicalExperience, base: string, options: HekPictureOptions = {}): string[] {
  const out: string[] = []
  const log = options.log ?? ((line: string) => console.error(line))
  const write = (name: string, draw: () => string) => {
    try {
      const svg = draw()
      writeFileAtomic(`${base}-${name}.svg`, svg)
      out.push(`${base}-${name}.svg`)
      const png = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true } }).render().asPng()
      writeFileAtomic(`${base}-${name}.png`, png)
      out.push(`${base}-${name}.png`)
    } catch (e) {
      log(`hiexp: the ${name} picture of ${base} is skipped: ${(e as Error).message}`)
    }
  }
  const { title, maxTips } = options
  write('tree', () => hekTreeSvg(hek, { ...(title !== undefined && { title }), ...(maxTips !== undefined && { maxTips }) }))
  const tips = hek.level(0).length
  if (tips > MAX_DENDROGRAM_LEAVES) {
    log(`hiexp: the dendrogram picture of ${base} is skipped: the HEK has ${tips} cases, more than the ${MAX_DENDROGRAM_LEAVES} a dendrogram is drawn for`)
  } else if (tips >= 2) {
    write('dendrogram', () => hekDendrogramSvg(hek, title ? { title } : {}))
  }
  return out
}
