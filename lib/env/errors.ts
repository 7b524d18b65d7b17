import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'

/** A malformed input file: the message names the file, the line (or row) and the field, and says what was expected. */
export class DataFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    detail: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}${field === undefined ? '' : `: field "${field}"`}: ${detail}`)
    this.name = 'DataFormatError'
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  return typeof value
}

/** A data file that does not exist (or is a folder) is named with its absolute path and who wanted it, not a raw ENOENT. */
export function assertDataFile(file: string, who: string): void {
  if (!existsSync(file)) throw new Error(`${who}: cannot read ${resolve(file)}: no such file`)
  if (statSync(file).isDirectory()) throw new Error(`${who}: ${resolve(file)} is a folder, expected a file`)
}
