// Issue 22 B3: a run folder is trained by one process at a time. A second trainer on the same outDir is refused with
// the holder's pid before it writes anything; the lock is released when its process exits, and one left by a process
// that was killed is recognised as stale and taken over.
import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Trainer } from '../../lib/train/trainer.js'
import { lockRunDir, RUN_LOCK_FILE, unlockRunDir } from '../../lib/train/run_lock.js'
import { tinyRun } from './fixtures/tiny_run.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const HOLDER = join(ROOT, 'test', 'train', 'fixtures', 'hold_lock.ts')
const base = mkdtempSync(join(tmpdir(), 'hiexp-lock-'))
test.after.always(() => rmSync(base, { recursive: true, force: true }))

/** A process holding outDir's lock, once it says it has it. */
function holder(outDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, HOLDER, outDir], { stdio: ['pipe', 'pipe', 'inherit'] })
  return new Promise((ok, fail) => {
    let out = ''
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
      if (out.includes('locked')) ok(child)
    })
    child.on('exit', (code) => fail(new Error(`the lock holder exited (${code}) before taking the lock: ${out}`)))
  })
}
const ended = (child: ChildProcess) => new Promise<void>((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.once('exit', () => ok())))

test('a second trainer on a folder in use is refused with the holder\'s pid and writes nothing', async (t) => {
  const outDir = join(base, 'busy')
  const child = await holder(outDir)
  try {
    const e = await t.throwsAsync(Trainer.create(tinyRun(outDir)))
    t.regex(e!.message, new RegExp(`outDir .*busy is in use by process ${child.pid} \\(.*run\\.lock, since .*\\): one run folder is trained by one process at a time`))
    t.false(existsSync(join(outDir, 'config.json')), 'the refused trainer wrote nothing')
    t.false(existsSync(join(outDir, 'metrics.jsonl')))
    t.is(JSON.parse(readFileSync(join(outDir, RUN_LOCK_FILE), 'utf8')).pid, child.pid)
  } finally {
    child.stdin!.end()
    await ended(child)
  }
  t.false(existsSync(join(outDir, RUN_LOCK_FILE)), 'released when its process exits')
  lockRunDir(outDir)
  t.is(JSON.parse(readFileSync(join(outDir, RUN_LOCK_FILE), 'utf8')).pid, process.pid)
  unlockRunDir(outDir)
  t.false(existsSync(join(outDir, RUN_LOCK_FILE)))
})

test('a lock left by a killed process is stale: the next trainer takes it over', async (t) => {
  const outDir = join(base, 'stale')
  const child = await holder(outDir)
  child.kill('SIGKILL')
  await ended(child)
  t.is(JSON.parse(readFileSync(join(outDir, RUN_LOCK_FILE), 'utf8')).pid, child.pid, 'a killed process leaves its lock')
  lockRunDir(outDir)
  t.is(JSON.parse(readFileSync(join(outDir, RUN_LOCK_FILE), 'utf8')).pid, process.pid)
  lockRunDir(outDir) // again in the same process: still ours
  unlockRunDir(outDir)
  // An unreadable lock (its writer died between creating and filling it) is stale too.
  writeFileSync(join(outDir, RUN_LOCK_FILE), '')
  lockRunDir(outDir)
  t.is(JSON.parse(readFileSync(join(outDir, RUN_LOCK_FILE), 'utf8')).pid, process.pid)
  unlockRunDir(outDir)
})
