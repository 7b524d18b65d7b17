// Progress of long work: a bar on a terminal, one plain line per step elsewhere (CI logs, files).
import cliProgress from 'cli-progress'

export interface Progress {
  /** Advances to `done` of `total`, with a short status ("reward 0.41 · EM 0.22"). */
  update(done: number, status?: string): void
  /** A line that must stay visible (validation results). */
  log(line: string): void
  stop(): void
}

/** Time left as "ETA 1m05s", from the rate since the first update that moved; '' before there is a rate. */
export function etaText(elapsedMs: number, done: number, total: number, start = 0): string {
  const moved = done - start
  if (moved <= 0 || elapsedMs <= 0 || done >= total) return done >= total && moved > 0 ? 'ETA 0s' : ''
  const s = Math.round(((total - done) * elapsedMs) / moved / 1000)
  const m = Math.floor(s / 60)
  return `ETA ${m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`}`
}

/**
 * A bar for `total` units. Its ETA is computed here (cli-progress prints "NULL" before its first estimate); a `done`
 * beyond `total` (a run given more steps than the plan it started with) grows the total instead of showing 12/10.
 */
export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  let plan = Math.max(0, total)
  const started = Date.now()
  // The rate counts from the first update (a resumed run starts at its step, not at 0).
  let first: number | undefined
  const eta = (done: number) => etaText(Date.now() - started, done, plan, first ?? done)
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {etaText} {status}`, hideCursor: true, stream },
      cliProgress.Presets.shades_classic,
    )
    bar.start(plan, 0, { status: '', etaText: '' })
    return {
      update: (done, status = '') => {
        first ??= done
        if (done > plan) bar.setTotal((plan = done))
        bar.update(done, { status, etaText: eta(done) })
      },
      log: (line) => {
        stream.write('\r\x1b[K' + line + '\n')
        bar.render()
      },
      stop: () => bar.stop(),
    }
  }
  return {
    update: (done, status = '') => {
      first ??= done
      if (done > plan) plan = done
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      stream.write(`${label} ${done}/${plan} (${seconds}s)${status ? ' ' + status : ''}\n`)
    },
    log: (line) => stream.write(line + '\n'),
    stop: () => {},
  }
}
