/**
 * Append-only JSON-lines files (metrics, trajectories): the operations a crash-consistent writer needs. A record is
 * one line written by one call; a process killed mid-write leaves a partial last line, which is cut before the next
 * append (it was never a record: its writer died before finishing it), and a run resuming from a checkpoint cuts the
 * file back to the length it had when that checkpoint was committed. A last line that is a whole JSON object without
 * its newline (a file written by another tool, or edited) is a record: it is kept, and given its newline.
 */
import { appendFileSync, closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import { faultPoint } from './fault.js'

/** Bytes in the file (0 when it does not exist). */
export function fileLength(path: string): number {
  return existsSync(path) ? statSync(path).size : 0
}

/** A last line without its newline is a record when it parses as a JSON object; a torn write never does. */
export function isCompleteRecord(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line)
    return typeof v === 'object' && v !== null
  } catch {
    return false
  }
}

/**
 * Cuts a partial last line (no trailing newline, not a whole JSON object) so that the next append starts a line of its
 * own; a whole record without its newline gets the newline instead. Returns the bytes removed.
 */
export function cutPartialLastLine(path: string): number {
  if (!existsSync(path)) return 0
  const fd = openSync(path, 'r+')
  try {
    const size = fstatSync(fd).size
    if (size === 0) return 0
    // Read backwards in blocks to the last newline: a record may be long, the scan stays bounded by one record.
    const block = Buffer.alloc(64 * 1024)
    let end = size
    while (end > 0) {
      const start = Math.max(0, end - block.length)
      const n = readSync(fd, block, 0, end - start, start)
      const nl = block.subarray(0, n).lastIndexOf(0x0a)
      if (nl >= 0) return endLastLine(fd, start + nl + 1, size)
      end = start
    }
    return endLastLine(fd, 0, size)
  } finally {
    closeSync(fd)
  }
}

/** The last line is [from, size): closed with a newline when it is a record, else cut. */
function endLastLine(fd: number, from: number, size: number): number {
  if (from === size) return 0
  const tail = Buffer.alloc(size - from)
  readSync(fd, tail, 0, tail.length, from)
  if (isCompleteRecord(tail.toString('utf8'))) {
    writeSync(fd, '\n', size)
    return 0
  }
  ftruncateSync(fd, from)
  return size - from
}

/**
 * Cuts the file back to `length` bytes, the length recorded when a checkpoint was committed. A file shorter than that
 * lost committed records (it was edited or replaced): an error naming the file, not a silent resume.
 */
export function truncateToCommitted(path: string, length: number, what: string): void {
  const size = fileLength(path)
  if (size < length) {
    throw new Error(
      `${path}: ${size} bytes, but the checkpoint being resumed committed ${length} bytes of ${what}; the file was ` +
        'truncated or replaced after that checkpoint. Restore it, or start the run in a new outDir',
    )
  }
  if (size === length) return
  const fd = openSync(path, 'r+')
  try {
    ftruncateSync(fd, length)
  } finally {
    closeSync(fd)
  }
}

/**
 * The writer of an append-only JSON-lines file: each `append` is one write call of whole lines. Before its first append
 * it cuts a partial last line, which a crash left and which would otherwise swallow the next record. `faultName` is
 * the fault point (lib/util/fault.ts) where a crash test tears a write in half.
 */
export class AppendOnlyFile {
  private repaired = false
  constructor(readonly path: string, private readonly faultName: string) {}

  append(text: string): void {
    if (!this.repaired) cutPartialLastLine(this.path)
    this.repaired = true
    faultPoint(this.faultName, () => appendFileSync(this.path, text.slice(0, text.length >> 1)))
    appendFileSync(this.path, text)
  }
}
