/**
 * Fault injection for crash tests: `HIEXP_FAULT=<point>` (or `<point>@<n>`, the n-th time it is reached, 1-based)
 * kills this process with SIGKILL at that point, as the OOM killer or a power cut would: no handler, no flush, no
 * finally. The run protocol's tests kill a training run at each point and check that it resumes to the state of an
 * uninterrupted run; `beforeKill` leaves what a kill in the middle of a write would (half a line). Unset (always, outside tests), a fault point costs one string comparison.
 */
const reached = new Map<string, number>()

export function faultPoint(point: string, beforeKill?: () => void): void {
  const spec = process.env.HIEXP_FAULT
  if (!spec) return
  const at = spec.lastIndexOf('@')
  const name = at < 0 ? spec : spec.slice(0, at)
  if (name !== point) return
  const nth = at < 0 ? 1 : Number(spec.slice(at + 1))
  const count = (reached.get(point) ?? 0) + 1
  reached.set(point, count)
  if (count !== nth) return
  // A torn write: what a kill in the middle of a write call leaves behind.
  beforeKill?.()
  process.kill(process.pid, 'SIGKILL')
}
