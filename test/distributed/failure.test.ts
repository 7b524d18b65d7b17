// Failure behaviour: a rank that dies, or stalls, makes the others fail with a clear error within the group's
// time-out (never a hang); a rank missing at rendezvous fails it within the time-out too.
import test from 'ava'
import { distBackends, freePort, initProcessGroup } from '../../lib/index.js'
import { spawnRank, tempDir } from './helpers.js'

const gloo = distBackends().gloo
const serial = gloo ? test.serial : test.serial.skip

async function failOneRank(how: 'kill' | 'stall', timeoutMs: number, hardMs = 55_000) {
  const port = await freePort()
  const cfg = { out: tempDir(), steps: 1000, modes: ['token-mean'], fail: { rank: 1, atStep: 2, how } }
  const rank0 = spawnRank(0, 2, port, cfg, hardMs, timeoutMs)
  const rank1 = spawnRank(1, 2, port, cfg, hardMs, timeoutMs)
  const r0 = await rank0.done
  rank1.kill() // the stalled rank stays alive on purpose
  const r1 = await rank1.done
  return { r0, r1 }
}

serial('a killed rank makes the other stop with a clear error, well within the time-out', async (t) => {
  t.timeout(70_000)
  const { r0, r1 } = await failOneRank('kill', 60_000)
  t.regex(r1.output, /failing on purpose after step 2: kill/)
  t.is(r0.code, 1, r0.output)
  t.regex(r0.output, /dist: all-reduce failed on rank 0 of 2 \(gloo, master 127\.0\.0\.1:\d+, time-out 60000 ms\)/)
  t.regex(r0.output, /Another rank has probably exited/)
  // Gloo sees the closed connection at once: far sooner than the 60 s time-out (start-up and 2 steps included).
  t.true(r0.ms < 40_000, `rank 0 took ${r0.ms} ms`)
})

serial('a stalled rank makes the other stop with a time-out error after the configured time-out', async (t) => {
  t.timeout(70_000)
  const timeoutMs = 3000
  const { r0 } = await failOneRank('stall', timeoutMs)
  t.is(r0.code, 1, r0.output)
  t.regex(r0.output, /dist: all-reduce failed on rank 0 of 2 \(gloo, .*time-out 3000 ms\): .*timed out/i)
  t.true(r0.ms >= timeoutMs, `rank 0 stopped after ${r0.ms} ms, before the time-out`)
  t.true(r0.ms < timeoutMs + 20_000, `rank 0 took ${r0.ms} ms`)
})

serial('rendezvous with a rank that never comes fails within the time-out, naming the master', async (t) => {
  t.timeout(30_000)
  const port = await freePort()
  const t0 = Date.now()
  const error = await t.throwsAsync(
    initProcessGroup({ rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: port, timeoutMs: 1500 }),
  )
  t.regex(error!.message, new RegExp(`rendezvous failed on rank 0 of 2 \\(gloo, master 127\\.0\\.0\\.1:${port}, time-out 1500 ms\\): .*did every rank start`))
  t.true(Date.now() - t0 < 15_000)
})
