// Text the `hiexp` command prints: an evaluation as a table (JSON stays behind --json).
import type { Evaluation, RolloutSummary } from './agent/evaluate.js'

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–')
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–')

function row(name: string, s: RolloutSummary): string[] {
  return [name, String(s.n), f3(s.em), f3(s.f1), f3(s.cem), f2(s.searchCalls), f3(s.repeatedQueryShare), f2(s.responseTokens)]
}

/** A fixed-width table: the whole split, then one row per hop count and per data source (when more than one). */
export function evaluationTable(e: Evaluation): string {
  const head = ['questions', 'n', 'EM', 'F1', 'CEM', 'searches', 'repeated', 'tokens']
  const rows = [row('all', e)]
  for (const [hops, s] of Object.entries(e.byHops).sort(([a], [b]) => Number(a) - Number(b))) rows.push(row(`${hops}-hop`, s))
  const sources = Object.entries(e.byDataSource)
  if (sources.length > 1) for (const [source, s] of sources) rows.push(row(source, s))
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const finish = Object.entries(e.finish)
    .map(([k, v]) => `${k} ${f3(v)}`)
    .join(', ')
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '', `finish (share of rollouts): ${finish}`].join('\n')
}
