// gpu-check's results: one JSON file, one Markdown file, and the one summary line printed last.
import { join } from 'node:path'
import { writeFileAtomic } from '../../lib/util/atomic.js'
import type { StepName } from './args.js'

export type StepStatus = 'pass' | 'fail' | 'not run'

export interface Table {
  title: string
  header: string[]
  rows: (string | number)[][]
}

export interface StepResult {
  name: StepName
  /** What the step checks, in a few words. */
  title: string
  status: StepStatus
  seconds: number
  /** One line: the numbers that matter, or why it failed. */
  summary: string
  /** Each mismatch or error, one sentence each. */
  problems: string[]
  tables?: Table[]
  /** The step's raw results (parsed JSON of the benchmark or parity run). */
  data?: unknown
}

export interface MachineSummary {
  hostname: string
  node: string
  gpu?: string
  capability?: string
  memoryGiB?: number
  torch?: string
  torchCuda?: string | null
  transformers?: string
  nvcc?: string
}

export interface GpuCheckReport {
  tool: 'hiexp gpu-check'
  hiexp: string
  date: string
  ok: boolean
  budgetS: number
  seconds: number
  machine: MachineSummary
  /** What stopped the check before it started (no GPU, no nvcc, …); empty when it ran. */
  preflight: string[]
  steps: StepResult[]
}

export const REPORT_FILES = { json: 'gpu-check.json', markdown: 'gpu-check.md', log: 'gpu-check.log' } as const

/** A report is a pass when it ran, every step it ran passed, and at least one ran. */
export function verdict(preflight: string[], steps: StepResult[]): boolean {
  const ran = steps.filter((s) => s.status !== 'not run')
  return preflight.length === 0 && ran.length > 0 && ran.every((s) => s.status === 'pass') && steps.every((s) => s.status !== 'fail')
}

function cell(value: string | number): string {
  const text = typeof value === 'number' ? formatNumber(value) : value
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

/** Numbers as a reader wants them in a table: 3 significant digits, exponent form for small differences. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  if (Number.isInteger(x)) return String(x)
  const a = Math.abs(x)
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2)
  return x.toPrecision(3)
}

export function markdownTable(t: Table): string {
  const lines = [`| ${t.header.map(cell).join(' | ')} |`, `|${t.header.map(() => '---').join('|')}|`]
  for (const row of t.rows) {
    if (row.length !== t.header.length) throw new RangeError(`table '${t.title}': a row has ${row.length} cells, the header ${t.header.length}`)
    lines.push(`| ${row.map(cell).join(' | ')} |`)
  }
  return lines.join('\n')
}

function machineLine(m: MachineSummary): string {
  const gpu = m.gpu ? `${m.gpu} (sm_${m.capability}, ${m.memoryGiB} GiB)` : 'no GPU seen'
  const parts = [gpu, m.torch ? `PyTorch ${m.torch} (CUDA ${m.torchCuda ?? 'none'})` : 'no PyTorch', m.transformers ? `transformers ${m.transformers}` : 'no transformers']
  if (m.nvcc) parts.push(`nvcc ${m.nvcc}`)
  parts.push(`Node.js ${m.node}`, `host ${m.hostname}`)
  return parts.join(', ')
}

export function markdownReport(r: GpuCheckReport): string {
  const out = [
    `# hiexp GPU check: ${r.ok ? 'PASS' : 'FAIL'}`,
    '',
    `hiexp ${r.hiexp}, ${r.date}; ${machineLine(r.machine)}. ${r.seconds.toFixed(0)} s of a ${r.budgetS} s budget.`,
    '',
  ]
  if (r.preflight.length) {
    out.push('Not run, because:', '', ...r.preflight.map((p) => `- ${p}`), '')
  }
  out.push(
    markdownTable({
      title: 'steps',
      header: ['step', 'checks', 'verdict', 'seconds', 'result'],
      rows: r.steps.map((s) => [s.name, s.title, s.status === 'pass' ? 'pass' : s.status === 'fail' ? '**FAIL**' : 'not run', s.status === 'not run' ? '' : s.seconds.toFixed(0), s.summary]),
    }),
    '',
  )
  for (const s of r.steps) {
    if (s.problems.length === 0 && !s.tables?.length) continue
    out.push(`## ${s.name}: ${s.title}`, '')
    if (s.problems.length) out.push(...s.problems.map((p) => `- ${p}`), '')
    for (const t of s.tables ?? []) out.push(`${t.title}`, '', markdownTable(t), '')
  }
  return out.join('\n')
}

/** The line printed last: verdict, where, how long, the headline of each step, and where the report is. */
export function summaryLine(r: GpuCheckReport, outDir: string): string {
  const where = `report ${join(outDir, REPORT_FILES.markdown)}`
  if (r.preflight.length) return `gpu-check: FAIL, nothing run: ${r.preflight[0]}; ${where}`
  const ran = r.steps.filter((s) => s.status !== 'not run')
  const failed = r.steps.filter((s) => s.status === 'fail')
  const on = r.machine.gpu ?? 'no GPU'
  if (r.ok) {
    return `gpu-check: PASS, ${ran.length}/${r.steps.length} steps on ${on} in ${r.seconds.toFixed(0)} s: ${ran.map((s) => `${s.name} ${s.summary}`).join('; ')}; ${where}`
  }
  const notRun = r.steps.filter((s) => s.status === 'not run').map((s) => s.name)
  const first = failed[0]
  return (
    `gpu-check: FAIL on ${on}: ${failed.map((s) => s.name).join(', ') || 'no step'} failed` +
    (notRun.length ? `, ${notRun.join(', ')} not run` : '') +
    (first ? `; ${first.name}: ${first.problems[0] ?? first.summary}` : '') +
    `; ${where}`
  )
}

/** Writes gpu-check.json and gpu-check.md into outDir (created); returns their paths. */
export function writeReport(r: GpuCheckReport, outDir: string): { json: string; markdown: string } {
  const json = join(outDir, REPORT_FILES.json)
  const markdown = join(outDir, REPORT_FILES.markdown)
  writeFileAtomic(json, JSON.stringify(r, null, 2) + '\n')
  writeFileAtomic(markdown, markdownReport(r))
  return { json, markdown }
}
