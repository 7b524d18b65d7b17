// The launcher: torchrun's environment for every rank, "[rank R]" output prefixes, and one failed rank stopping all.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { launch, launchMain, parseLaunchArgs } from '../../lib/index.js'

function capture() {
  const stream = new PassThrough()
  const out = { text: '' }
  stream.on('data', (d) => (out.text += d))
  return { stream, out }
}

const PRINT_ENV =
  "const e = process.env; console.log([e.RANK, e.WORLD_SIZE, e.LOCAL_RANK, e.LOCAL_WORLD_SIZE, e.GROUP_RANK, e.MASTER_ADDR, e.MASTER_PORT, e.HIEXP_DIST_TIMEOUT_MS].join(' '))"

test('every rank gets torchrun variables; output lines carry the rank', async (t) => {
  const { stream, out } = capture()
  const r = await launch({ nproc: 2, masterPort: 29777, timeoutMs: 1234, stdout: stream, stderr: stream }, [process.execPath, '-e', PRINT_ENV])
  t.is(r.exitCode, 0)
  t.is(r.failedRank, undefined)
  t.is(r.masterPort, 29777)
  t.true(out.text.includes('[rank 0] 0 2 0 2 0 127.0.0.1 29777 1234\n'), out.text)
  t.true(out.text.includes('[rank 1] 1 2 1 2 0 127.0.0.1 29777 1234\n'), out.text)
})

test('node 1 of 2 runs global ranks nproc … 2*nproc-1', async (t) => {
  const { stream, out } = capture()
  const r = await launch(
    { nproc: 2, nnodes: 2, nodeRank: 1, masterAddr: '10.1.2.3', masterPort: 29500, stdout: stream, stderr: stream },
    [process.execPath, '-e', PRINT_ENV],
  )
  t.is(r.exitCode, 0)
  t.true(out.text.includes('[rank 2] 2 4 0 2 1 10.1.2.3 29500'), out.text)
  t.true(out.text.includes('[rank 3] 3 4 1 2 1 10.1.2.3 29500'), out.text)
})

test('a single-node launch picks a free master port when none is given', async (t) => {
  const { stream, out } = capture()
  const r = await launch({ nproc: 1, stdout: stream, stderr: stream }, [process.execPath, '-e', PRINT_ENV])
  t.is(r.exitCode, 0)
  t.true(r.masterPort > 0)
  t.true(out.text.includes(`127.0.0.1 ${r.masterPort}`))
})

test('a rank that fails stops the others at once; the result names it', async (t) => {
  t.timeout(20_000)
  const { stream, out } = capture()
  const t0 = Date.now()
  const script = "if (process.env.RANK === '1') { console.error('boom'); process.exit(3) } setTimeout(() => {}, 60000)"
  const r = await launch({ nproc: 3, stdout: stream, stderr: stream, killGraceMs: 2000 }, [process.execPath, '-e', script])
  t.is(r.exitCode, 3)
  t.is(r.failedRank, 1)
  t.true(Date.now() - t0 < 10_000)
  t.deepEqual(r.ranks.map((x) => x.signal), ['SIGTERM', null, 'SIGTERM'])
  t.true(out.text.includes('[rank 1] boom'))
  t.regex(out.text, /hiexp launch: rank 1 exited with code 3; stopping the other ranks/)
})

test('a rank that ignores SIGTERM is killed after the grace period; an abort signal stops every rank', async (t) => {
  t.timeout(20_000)
  const { stream } = capture()
  // Rank 1 ignores SIGTERM; rank 0 fails once rank 1 has said so (a file), so that the SIGTERM cannot come first.
  const ready = join(mkdtempSync(join(tmpdir(), 'hiexp-launch-')), 'ready')
  const stubborn =
    "const fs = require('fs'); const f = process.env.READY_FILE; " +
    "if (process.env.RANK === '1') { process.on('SIGTERM', () => {}); fs.writeFileSync(f, '1'); setInterval(() => {}, 1000) } " +
    'else setInterval(() => { if (fs.existsSync(f)) process.exit(2) }, 20)'
  const r = await launch({ nproc: 2, stdout: stream, stderr: stream, killGraceMs: 300, env: { READY_FILE: ready } }, [process.execPath, '-e', stubborn])
  t.is(r.exitCode, 2)
  t.is(r.ranks[1].signal, 'SIGKILL')
  const abort = new AbortController()
  setTimeout(() => abort.abort(), 500)
  const a = await launch({ nproc: 2, stdout: stream, stderr: stream, signal: abort.signal }, [process.execPath, '-e', 'setInterval(() => {}, 1000)'])
  t.is(a.exitCode, 130)
})

test('launch options and command are checked', async (t) => {
  await t.throwsAsync(launch({ nproc: 0 }, ['x']), { instanceOf: RangeError, message: /options\.nproc/ })
  await t.throwsAsync(launch({ nproc: 1, nnodes: 2, nodeRank: 2 }, ['x']), { instanceOf: RangeError, message: /nodeRank \(2\) must be below nnodes \(2\)/ })
  await t.throwsAsync(launch({ nproc: 1 }, []), { instanceOf: TypeError, message: /command/ })
  await t.throwsAsync(launch({ nproc: 1 }, ['/nonexistent/program']), { message: /cannot start '\/nonexistent\/program'/ })
})

test('hiexp launch arguments: torchrun-style flags, then the command after --', (t) => {
  t.deepEqual(parseLaunchArgs(['--nproc', '2', '--', 'npx', 'tsx', 'train.ts', '--steps', '3']), {
    options: { nproc: 2 },
    command: ['npx', 'tsx', 'train.ts', '--steps', '3'],
  })
  t.deepEqual(
    parseLaunchArgs(['--nproc-per-node=4', '--nnodes', '2', '--node-rank', '1', '--master-addr', '10.0.0.1', '--master-port=29500', '--timeout-ms', '600000', '--', 'x']).options,
    { nproc: 4, nnodes: 2, nodeRank: 1, masterAddr: '10.0.0.1', masterPort: 29500, timeoutMs: 600000 },
  )
  t.throws(() => parseLaunchArgs(['--', 'x']), { instanceOf: RangeError, message: /--nproc is required/ })
  t.throws(() => parseLaunchArgs(['--nproc', '2']), { instanceOf: RangeError, message: /no command after '--'/ })
  t.throws(() => parseLaunchArgs(['--nprocs', '2', '--', 'x']), { instanceOf: RangeError, message: /unknown option '--nprocs'/ })
  t.throws(() => parseLaunchArgs(['--nproc', 'two', '--', 'x']), { instanceOf: RangeError, message: /--nproc must be an integer in \[1, 1024\], got "two"/ })
})

test('launchMain returns the exit code of the job', async (t) => {
  t.is(await launchMain(['--nproc', '2', '--', process.execPath, '-e', 'process.exit(0)']), 0)
  t.is(await launchMain(['--nproc', '2', '--', process.execPath, '-e', "process.exit(process.env.RANK === '1' ? 4 : 0)"]), 4)
})
