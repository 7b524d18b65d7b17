// TensorBoard event files (lib/report/tensorboard.ts): TFRecord framing with masked CRC-32C around Event protos,
// checked against the published CRC-32C check value, decoded back here, and read by python's tensorboard where it is
// installed.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { maskedCrc32c, readEventFile, scalarsOf, TensorBoardWriter } from '../../lib/report/tensorboard.js'
import { MetricsLog, readMetrics } from '../../lib/report/metrics.js'
import { crc32c } from '@aws-crypto/crc32c'

const dir = (t: { teardown: (f: () => void) => void }) => {
  const d = mkdtempSync(join(tmpdir(), 'hiexp-tb-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}

test('CRC-32C is the Castagnoli check value and the mask is TFRecord\'s', (t) => {
  // RFC 3720 B.4 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283.
  t.is(crc32c(Buffer.from('123456789')), 0xe3069283)
  // TFRecord: ((crc >>> 15) | (crc << 17)) + 0xa282ead8, mod 2^32, computed here in BigInt as a second reading.
  const c = 0xe3069283n
  const rotated = ((c >> 15n) | (c << 17n)) & 0xffffffffn
  t.is(maskedCrc32c(Buffer.from('123456789')), Number((rotated + 0xa282ead8n) & 0xffffffffn))
})

test('metrics rows become one event per row with a scalar per number; the file decodes back with every CRC checked', (t) => {
  const d = dir(t)
  const writer = new TensorBoardWriter(join(d, 'tb'))
  const log = new MetricsLog(join(d, 'metrics.jsonl'), [writer])
  log.append({ phase: 'validation', step: 0, em: 0.25, f1: 0.5, cem: 0.25, searchCalls: 1, responseTokens: 9, repeatedQueryShare: 0, emByHops: { 1: 0.5, 2: 0 }, emWithExperience: 0.125 })
  log.append({ phase: 'warm-start', step: 3, loss: 1.5, gradNorm: 2, lr: 1e-3 })
  log.close()
  const files = readdirSync(join(d, 'tb'))
  t.is(files.length, 1)
  t.regex(files[0], /^events\.out\.tfevents\.\d+\./)
  const events = readEventFile(join(d, 'tb', files[0]))
  t.is(events[0].fileVersion, 'brain.Event:2')
  t.is(events.length, 3)
  const [, validation, warm] = events
  t.is(validation.step, 0)
  const byTag = Object.fromEntries(validation.summary!.value.map((v) => [v.tag, v.simpleValue]))
  t.deepEqual(byTag, { 'validation/em': 0.25, 'validation/f1': 0.5, 'validation/cem': 0.25, 'validation/searchCalls': 1, 'validation/responseTokens': 9, 'validation/repeatedQueryShare': 0, 'validation/emByHops/1': 0.5, 'validation/emByHops/2': 0, 'validation/emWithExperience': 0.125 })
  t.is(warm.step, 3)
  t.is(Math.fround(1e-3), warm.summary!.value.find((v) => v.tag === 'warm-start/lr')!.simpleValue)
  // Every row of metrics.jsonl carries its time, and the event its wall time.
  const rows = readMetrics(join(d, 'metrics.jsonl'))
  t.true(rows.every((r) => typeof r.time === 'number' && Math.abs(r.time - Date.now() / 1000) < 60))
  t.is(warm.wallTime, rows[1]!.time!)
  // A damaged byte is found by its CRC.
  const bytes = readFileSync(join(d, 'tb', files[0]))
  bytes[bytes.length - 6] ^= 0xff
  writeFileSync(join(d, 'tb', 'damaged'), bytes)
  t.throws(() => readEventFile(join(d, 'tb', 'damaged')), { message: /bad data CRC/ })
})

test('scalarsOf skips text, booleans and non-finite numbers', (t) => {
  t.deepEqual(scalarsOf({ phase: 'hek', step: 1, experiences: 4, seconds: Infinity, note: 'x', ok: true } as never), [{ tag: 'hek/experiences', simpleValue: 4 }])
})

const python = spawnSync('python3', ['-c', 'import tensorboard.backend.event_processing.event_accumulator'], { encoding: 'utf8' }).status === 0
;(python ? test : test.skip)(`python's tensorboard reads the event file (${python ? 'installed' : 'not installed here: skipped'})`, (t) => {
  const d = dir(t)
  const writer = new TensorBoardWriter(d)
  writer.write({ phase: 'rl', step: 1, rewardMean: 0.5 } as never)
  writer.write({ phase: 'rl', step: 2, rewardMean: 0.75 } as never)
  writer.close()
  const script = `
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1]); acc.Reload()
print(",".join(f"{e.step}:{e.value}" for e in acc.Scalars("rl/rewardMean")))`
  const r = spawnSync('python3', ['-c', script, d], { encoding: 'utf8', timeout: 120_000 })
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), '1:0.5,2:0.75')
})

test('a writer that gets no row leaves no file (hiexp eval of a run with the logger); a row after close() reopens it', (t) => {
  const d = dir(t)
  const idle = new TensorBoardWriter(join(d, 'idle'))
  idle.close()
  t.throws(() => readdirSync(join(d, 'idle')), { code: 'ENOENT' })
  const writer = new TensorBoardWriter(join(d, 'tb'))
  writer.write({ phase: 'rl', step: 1, rewardMean: 0.5 } as never)
  writer.close()
  writer.write({ phase: 'validation', step: 1, em: 0.25 } as never)
  writer.close()
  const events = readEventFile(writer.path)
  t.deepEqual(events.map((e) => [e.step, e.fileVersion ?? e.summary?.value[0]?.tag]), [[0, 'brain.Event:2'], [1, 'rl/rewardMean'], [1, 'validation/em']])
})
