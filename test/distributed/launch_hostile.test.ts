// Issue 22 B8: a rank that leaves a program running in the background (which keeps the rank's pipes open) must not
// keep the launcher waiting: when the job stops, every rank's whole process group is signalled, ranks that already
// exited included, and the launcher stops reading pipes that only a left-behind program holds. SIGTERM to the
// launcher stops everything the same way. The launcher runs in a child process, bounded in time.
import test from 'ava'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { launch } from '../../lib/distributed/launch.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Running (a zombie waiting for a reaper that a container may not have counts as stopped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true
  }
}
const pidsIn = (text: string) => [...text.matchAll(/background (\d+)/g)].map((m) => Number(m[1]))

test('a failed rank that left a background program: the job ends at once and the background programs are stopped', async (t) => {
  const sink = new PassThrough()
  let out = ''
  sink.on('data', (d) => (out += d))
  const script = 'sleep 123 & echo background $!; if [ $RANK = 1 ]; then exit 4; fi; sleep 60'
  const r = await launch({ nproc: 2, killGraceMs: 500, stdout: sink, stderr: sink }, ['bash', '-c', script])
  t.is(r.exitCode, 4)
  t.is(r.failedRank, 1)
  const pids = pidsIn(out)
  t.is(pids.length, 2, out)
  await new Promise((ok) => setTimeout(ok, 200))
  for (const pid of pids) t.false(alive(pid), `background program ${pid} was stopped with its rank's group`)
})

test('SIGTERM to `hiexp launch` stops every rank and their background programs, and the launcher exits', async (t) => {
  const cli = join(ROOT, 'lib', 'cli.ts')
  const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, cli, 'launch', '--nproc', '2', '--kill-grace-ms', '500', '--', 'bash', '-c', 'sleep 123 & echo background $!; if [ $RANK = 1 ]; then exit 0; fi; sleep 60'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.on('exit', (code, signal) => ok({ code, signal })))
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  try {
    while (pidsIn(out).length < 2) await new Promise((ok) => setTimeout(ok, 50))
    // Rank 1 has exited 0 by now (its background program holds its pipes); rank 0 sleeps.
    await new Promise((ok) => setTimeout(ok, 300))
    child.kill('SIGTERM')
    const { code, signal } = await ended
    t.is(signal, null, out)
    t.is(code, 128 + 15, out)
    await new Promise((ok) => setTimeout(ok, 200))
    for (const pid of pidsIn(out)) t.false(alive(pid), `background program ${pid} was stopped`)
  } finally {
    clearTimeout(killer)
    for (const pid of pidsIn(out)) if (alive(pid)) process.kill(pid, 'SIGKILL')
  }
})
