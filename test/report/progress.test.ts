// Progress bars (lib/report/progress.ts): no "NULL" ETA in the first frame, a run given more steps than its plan
// grows the total, and plain lines off a terminal.
import test from 'ava'
import { etaText, progress } from '../../lib/report/progress.js'

/** A terminal-like stream that keeps what is written (cli-progress draws through write/cursorTo/clearLine). */
function fakeTerminal() {
  const out: string[] = []
  const stream = {
    isTTY: true,
    columns: 120,
    write: (s: string) => (out.push(s), true),
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    clearScreenDown: () => true,
    on: () => stream,
    removeListener: () => stream,
  }
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => out.join('') }
}

test('the first frames show no NULL ETA and a done beyond the plan grows the total (no 12/10)', (t) => {
  const { stream, text } = fakeTerminal()
  const bar = progress('grpo', 10, stream)
  bar.update(0)
  bar.update(12, 'reward 0.50')
  bar.stop()
  const frames = text()
  t.notRegex(frames, /NULL|NaN|Infinity/)
  t.notRegex(frames, /12\/10/)
  t.regex(frames, /12\/12/)
})

test('off a terminal: one line per update, with the grown total', (t) => {
  const lines: string[] = []
  const stream = { isTTY: false, write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream
  const bar = progress('HEK rollouts', 10, stream)
  bar.update(4, 'rollouts finished')
  bar.update(12)
  t.regex(lines[0], /^HEK rollouts 4\/10 \(\d+\.\ds\) rollouts finished\n$/)
  t.regex(lines[1], /^HEK rollouts 12\/12 /)
})

test('the ETA is left out until there is a rate, then counts from the first update', (t) => {
  t.is(etaText(5000, 0, 10, 0), '')
  t.is(etaText(0, 3, 10, 3), '')
  t.is(etaText(10_000, 5, 10, 0), 'ETA 10s')
  t.is(etaText(60_000, 6, 10, 4), 'ETA 2m00s') // resumed at 4: 2 steps a minute
  t.is(etaText(1000, 10, 10, 0), 'ETA 0s')
})
