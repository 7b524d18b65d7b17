// Metrics as JSON lines, one object a step: appended and flushed as they come, so a crash loses at most the line
// being written, and a reader (a plot while training runs) skips a partial last line.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { AppendOnlyFile } from '../util/append_only.js'

export type MetricsRow = Record<string, number | string | boolean | null | Record<string, number>>

export class MetricsLog {
  private readonly file: AppendOnlyFile
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true })
    if (!existsSync(path)) writeFileSync(path, '')
    this.file = new AppendOnlyFile(path, 'metrics:append')
  }

  append(row: MetricsRow): void {
    this.file.append(JSON.stringify(row) + '\n')
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
