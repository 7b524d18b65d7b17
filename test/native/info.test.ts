import test from 'ava'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import * as hx from '../../lib/index.js'

test('info reports the package version, libtorch and the devices', (t) => {
  const info = hx.info()
  t.is(info.version, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
  t.regex(info.torchVersion, /^\d+\.\d+/)
  t.true(info.devices.includes('cpu'))
  t.is(info.devices.some((d) => d.startsWith('cuda')), info.cudaCompiled && info.devices.length > 1)
})

test('setThreads changes the intra-op thread count and rejects bad values by name', (t) => {
  const before = hx.info().threads
  hx.setThreads(1)
  t.is(hx.info().threads, 1)
  hx.setThreads(before)
  t.is(hx.info().threads, before)
  t.throws(() => hx.setThreads(0), { instanceOf: RangeError, message: /threads must be an integer in \[1, 1024\], got 0/ })
  t.throws(() => hx.setThreads(1.5), { instanceOf: RangeError, message: /threads/ })
  t.throws(() => hx.setThreads('2' as unknown as number), { instanceOf: TypeError, message: /threads must be a number, got string/ })
  t.true(os.cpus().length >= 1)
})
