// TensorBoard event files (`events.out.tfevents.<time>.<host>`): the metrics rows as scalars per step, for
// `tensorboard --logdir <outDir>/tensorboard` (the 'tensorboard' entry of the run config's `logger`, like verl's
// trainer.logger). The file is TFRecord framing around tensorflow.Event protos: per record the length (uint64 LE),
// its masked CRC-32C, the bytes, their masked CRC-32C. The protos are encoded by protobufjs from the schema below.
import { crc32c } from '@aws-crypto/crc32c'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import protobuf from 'protobufjs'
import type { MetricsRow, MetricsSink } from './metrics.js'

/** The fields of tensorflow/core/util/event.proto and summary.proto that scalar summaries use. */
const root = protobuf.Root.fromJSON({
  nested: {
    tensorflow: {
      nested: {
        Event: {
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: { Value: { fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } } } },
        },
      },
    },
  },
})
export const EventProto = root.lookupType('tensorflow.Event')

export interface TensorBoardEvent {
  wallTime: number
  step: number
  fileVersion?: string
  summary?: { value: Array<{ tag: string; simpleValue: number }> }
}

/** TFRecord's masked CRC-32C (tensorflow/core/lib/hash/crc32c.h: rotate right by 15, add a constant). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes)
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0
}

function record(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4)
  out.writeBigUInt64LE(BigInt(data.length), 0)
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8)
  out.set(data, 12)
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length)
  return out
}

/** The row's numbers as scalar tags `<phase>/<name>` (nested numbers: `<phase>/<name>/<key>`); the rest is skipped. */
export function scalarsOf(row: MetricsRow): Array<{ tag: string; simpleValue: number }> {
  const out: Array<{ tag: string; simpleValue: number }> = []
  for (const [name, value] of Object.entries(row)) {
    if (name === 'step' || name === 'time' || name === 'phase') continue
    if (typeof value === 'number' && Number.isFinite(value)) out.push({ tag: `${row.phase}/${name}`, simpleValue: value })
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) if (Number.isFinite(v)) out.push({ tag: `${row.phase}/${name}/${k}`, simpleValue: v })
    }
  }
  return out
}

/**
 * Writes one event file in `dir`: the file-version event, then one event per row with its scalars. Each process that
 * writes rows (a run, a resume) starts a new file, as TensorBoard's writers do.
 */
export class TensorBoardWriter implements MetricsSink {
  readonly path: string
  private fd: number | undefined

  constructor(private readonly dir: string) {
    this.path = join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}.${process.pid}`)
  }

  private event(e: TensorBoardEvent): void {
    // The file is made with its first row (a process that writes none, like hiexp eval, leaves no file); rows after
    // close() (a validation after run()) reopen it.
    if (this.fd === undefined) {
      const fresh = !existsSync(this.path)
      mkdirSync(this.dir, { recursive: true })
      this.fd = openSync(this.path, 'a')
      if (fresh) writeSync(this.fd, record(EventProto.encode(EventProto.fromObject({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' })).finish()))
    }
    writeSync(this.fd, record(EventProto.encode(EventProto.fromObject(e)).finish()))
  }

  write(row: MetricsRow): void {
    const value = scalarsOf(row)
    if (value.length === 0) return
    this.event({ wallTime: row.time ?? Date.now() / 1000, step: row.step, summary: { value } })
  }

  close(): void {
    if (this.fd === undefined) return
    fsyncSync(this.fd)
    closeSync(this.fd)
    this.fd = undefined
  }
}

/** Reads an event file back, checking every CRC (what tests and tools use to look inside). */
export function readEventFile(path: string): TensorBoardEvent[] {
  const bytes = readFileSync(path)
  const out: TensorBoardEvent[] = []
  let at = 0
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error(`${path}: truncated record header at byte ${at}`)
    const length = Number(bytes.readBigUInt64LE(at))
    if (bytes.readUInt32LE(at + 8) !== maskedCrc32c(bytes.subarray(at, at + 8))) throw new Error(`${path}: bad length CRC at byte ${at}`)
    const data = bytes.subarray(at + 12, at + 12 + length)
    if (data.length !== length || at + 16 + length > bytes.length) throw new Error(`${path}: truncated record at byte ${at}`)
    if (bytes.readUInt32LE(at + 12 + length) !== maskedCrc32c(data)) throw new Error(`${path}: bad data CRC at byte ${at}`)
    // proto3 leaves zeros off the wire: read them back as 0 (and drop the empty fields that defaults add).
    const e = EventProto.toObject(EventProto.decode(data), { longs: Number, defaults: true }) as TensorBoardEvent
    if (e.fileVersion === '') delete e.fileVersion
    if (!e.summary) delete e.summary
    out.push(e)
    at += 16 + length
  }
  return out
}
