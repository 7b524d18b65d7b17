// Metrics as JSON lines, one object a step: appended and flushed as they come, so a crash loses at most the line
// being written, and a reader (a plot while training runs) skips a partial last line.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { cutPartialLastLine } from '../util/append_only.js'
import { faultPoint } from '../util/fault.js'

export type MetricsRow = Record<string, number | string | boolean | null | Record<string, number>>

export class MetricsLog {
  private repaired = false
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true })
    if (!existsSync(path)) writeFileSync(path, '')
  }

  append(row: MetricsRow): void {
    // A line cut short by a crash would swallow this one: cut it first (it never was a whole row).
    if (!this.repaired) cutPartialLastLine(this.path)
    this.repaired = true
    const line = JSON.stringify(row) + '\n'
    faultPoint('metrics:append', () => appendFileSync(this.path, line.slice(0, line.length >> 1)))
    appendFileSync(this.path, line)
  }
}

/** Reads a metrics file, skipping a trailing partial line (a writer may be mid-append). */
export function readMetrics(path: string): MetricsRow[] {
  if (!existsSync(path)) return []
  const rows: MetricsRow[] = []
  const lines = readFileSync(path, 'utf8').split('\n')
  lines.forEach((line, i) => {
    if (!line.trim()) return
    try {
      rows.push(JSON.parse(line) as MetricsRow)
    } catch (error) {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) {
        throw new Error(`${path}:${i + 1}: not a JSON object (${(error as Error).message})`)
      }
    }
  })
  return rows
}
