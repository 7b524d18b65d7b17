// Streaming reader of JSON-lines files for the loaders: one parsed row at a time with its 1-based line number;
// blank lines are skipped and a line that is not JSON is a DataFormatError naming the file and line.
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { DataFormatError } from './errors.js'

export async function* jsonlRows(file: string): AsyncGenerator<{ row: unknown; line: number }> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })
  let line = 0
  try {
    for await (const text of lines) {
      line++
      if (text.trim() === '') continue
      let row: unknown
      try {
        row = JSON.parse(text)
      } catch (e) {
        throw new DataFormatError(file, line, undefined, `not valid JSON (${(e as Error).message})`)
      }
      yield { row, line }
    }
  } finally {
    lines.close()
  }
}
