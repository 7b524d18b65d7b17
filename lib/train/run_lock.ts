/**
 * A run folder is written by one process at a time. Two trainers on one outDir would interleave their metrics and
 * trajectories and commit each other's lengths, so the first one takes `run.lock` (created exclusively, holding its
 * pid) and the others are refused with that pid. The lock goes when its process exits; one left by a process that
 * died without exiting (SIGKILL, a crash) names a pid that no longer runs, and is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'

export const RUN_LOCK_FILE = 'run.lock'

interface LockRecord {
  pid: number
  host: string
  since: string
}

/** Locks this process holds (released together at exit). */
const held = new Set<string>()
let exitHook = false

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readLock(path: string): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockRecord>
    return typeof r.pid === 'number' && Number.isInteger(r.pid) && r.pid > 0 ? { pid: r.pid, host: String(r.host ?? ''), since: String(r.since ?? '') } : undefined
  } catch {
    return undefined
  }
}

/**
 * Takes outDir's run lock for this process (again: a no-op), or throws naming the process that holds it. A lock whose
 * process is gone, or that cannot be read (its writer died between creating and filling it), is replaced.
 */
export function lockRunDir(outDir: string): void {
  const path = resolve(join(outDir, RUN_LOCK_FILE))
  if (held.has(path)) return
  mkdirSync(outDir, { recursive: true })
  const me: LockRecord = { pid: process.pid, host: hostname(), since: new Date().toISOString() }
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number
    try {
      fd = openSync(path, 'wx')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const other = readLock(path)
      if (other && other.pid === process.pid && other.host === me.host) {
        held.add(path)
        return
      }
      if (other && (other.host !== me.host || alive(other.pid))) {
        throw new Error(
          `outDir ${resolve(outDir)} is in use by process ${other.pid}${other.host !== me.host ? ` on ${other.host}` : ''} (${path}, since ${other.since}): ` +
            'one run folder is trained by one process at a time. Wait for it to end or stop it, or train into another outDir' +
            (other.host !== me.host ? `; if no such process runs on ${other.host}, remove ${path}` : ''),
        )
      }
      // Stale (its process is gone) or unreadable: replace it.
      rmSync(path, { force: true })
      continue
    }
    try {
      writeSync(fd, JSON.stringify(me))
    } finally {
      closeSync(fd)
    }
    held.add(path)
    if (!exitHook) {
      exitHook = true
      process.on('exit', releaseAll)
    }
    return
  }
  throw new Error(`outDir ${resolve(outDir)}: could not take ${path} (other processes keep replacing it)`)
}

/** Gives outDir's lock back (when this process holds it). */
export function unlockRunDir(outDir: string): void {
  const path = resolve(join(outDir, RUN_LOCK_FILE))
  if (!held.delete(path)) return
  if (readLock(path)?.pid === process.pid) rmSync(path, { force: true })
}

function releaseAll(): void {
  for (const path of held) {
    try {
      if (readLock(path)?.pid === process.pid) rmSync(path, { force: true })
    } catch {
      // Exiting anyway: a lock left behind names a dead pid and is taken over.
    }
  }
  held.clear()
}
