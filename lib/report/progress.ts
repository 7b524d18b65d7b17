// Progress of long work: a bar on a terminal, one plain line per step elsewhere (CI logs, files).
import cliProgress from 'cli-progress'

export interface Progress {
  /** Advances to `done` of `total`, with a short status ("reward 0.41 · EM 0.22"). */
  update(done: number, status?: string): void
  /** A line that must stay visible (validation results). */
  log(line: string): void
  stop(): void
}

export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {eta_formatted} {status}`, hideCursor: true, stream, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    )
    bar.start(total, 0, { status: '' })
    return {
      update: (done, status = '') => bar.update(done, { status }),
      log: (line) => {
        stream.write('\r\x1b[K' + line + '\n')
        bar.render()
      },
      stop: () => bar.stop(),
    }
  }
  const started = Date.now()
  return {
    update: (done, status = '') => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      stream.write(`${label} ${done}/${total} (${seconds}s)${status ? ' ' + status : ''}\n`)
    },
    log: (line) => stream.write(line + '\n'),
    stop: () => {},
  }
}
