// Issue 22 B15: a complete last JSON-lines record without its final newline is a record (a file written by another
// tool, or edited): readers count it and the next append keeps it. Only a tail that does not parse (a torn write) is
// cut, as before.
import test from 'ava'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readTrajectories, TrajectoryStore, TrajectoryTail } from '../../lib/experience/store.js'
import { MetricsLog, readMetrics, type MetricsRow } from '../../lib/report/metrics.js'
import { cutPartialLastLine } from '../../lib/util/append_only.js'
import { traj } from '../experience/helpers.js'

const base = mkdtempSync(join(tmpdir(), 'hiexp-append-'))
test.after.always(() => rmSync(base, { recursive: true, force: true }))

const records = (n: number) => Array.from({ length: n }, (_, i) => traj(`q${i}`, `Question ${i}?`, [{ answer: `a${i}` }], { reward: i % 2, id: `r${i}` }))
const lines = (rs: unknown[]) => rs.map((r) => JSON.stringify(r)).join('\n')

test('a last record without a newline is read, and kept by the next append', (t) => {
  const file = join(base, 'no-newline.jsonl')
  writeFileSync(file, lines(records(64)))
  t.is(readTrajectories(file).records.length, 64)
  t.is(readTrajectories(file).nextOffset, readFileSync(file).length)
  const store = new TrajectoryStore(file)
  t.is(store.read().length, 64)
  store.append(records(1).map((r) => ({ ...r, id: 'new' })))
  const after = store.read()
  t.is(after.length, 65)
  t.deepEqual(after.map((r) => r.id).slice(-2), ['r63', 'new'])
})

test('a single record without a newline is a record, not an empty file', (t) => {
  const file = join(base, 'single.jsonl')
  writeFileSync(file, JSON.stringify(records(1)[0]))
  t.is(readTrajectories(file).records.length, 1)
  t.is(cutPartialLastLine(file), 0)
  t.true(readFileSync(file, 'utf8').endsWith('}\n'), 'the record got its newline')
  t.is(readTrajectories(file).records.length, 1)
})

test('a torn last line (half a record) is still left unread and cut before the next append', (t) => {
  const file = join(base, 'torn.jsonl')
  const full = lines(records(3)) + '\n'
  const torn = JSON.stringify(records(4)[3])
  writeFileSync(file, full + torn.slice(0, torn.length >> 1))
  const r = readTrajectories(file)
  t.is(r.records.length, 3)
  t.is(r.nextOffset, Buffer.byteLength(full))
  t.is(cutPartialLastLine(file), torn.length >> 1)
  t.is(readFileSync(file, 'utf8'), full)
  // A tail being written is picked up once it is whole.
  const tail = new TrajectoryTail(file)
  t.is(tail.poll().length, 3)
  appendFileSync(file, torn.slice(0, 10))
  t.is(tail.poll().length, 0)
  appendFileSync(file, torn.slice(10))
  t.is(tail.poll().length, 1)
})

test('metrics: a last row without a newline survives the next append', (t) => {
  const file = join(base, 'metrics.jsonl')
  writeFileSync(file, '{"phase":"rl","step":1}\n{"phase":"rl","step":2}')
  // A partial row: only the log's line handling is under test here.
  new MetricsLog(file).append({ phase: 'rl', step: 3 } as unknown as MetricsRow)
  t.deepEqual(readMetrics(file).map((r) => r.step), [1, 2, 3])
})
