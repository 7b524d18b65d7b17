// Issue 22 B6: SIGTERM to `hiexp serve-retrieval` is effective while requests are being scored: the process exits 0
// (in-flight requests are cut, as if the server had died). The server runs in a child process, bounded in time.
import test from 'ava'
import { spawn } from 'node:child_process'

test('SIGTERM stops hiexp serve-retrieval while large requests are in flight', async (t) => {
  const child = spawn(process.execPath, ['--import=tsx', new URL('../../lib/cli.ts', import.meta.url).pathname, 'serve-retrieval', '--world', '0', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  t.teardown(() => clearTimeout(killer))
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.on('exit', (code, signal) => ok({ code, signal })))
  const url = await new Promise<string>((done, reject) => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const m = /listening on (\S+)/.exec(text)
      if (m) done(m[1])
    })
    child.on('exit', (code) => reject(new Error(`serve-retrieval exited with ${code}: ${text}`)))
  })
  const words = 'born in the city of the founder of the company where the film was made by the director'.split(' ')
  const query = Array.from({ length: 64 }, (_, i) => words[i % words.length]).join(' ')
  const big = JSON.stringify({ queries: Array.from({ length: 128 }, () => query), topk: 5 })
  const inflight = Array.from({ length: 8 }, () => fetch(url, { method: 'POST', body: big }).then((r) => r.status, () => 'cut'))
  await new Promise((r) => setTimeout(r, 150))
  child.kill('SIGTERM')
  const { code, signal } = await ended
  t.is(signal, null)
  t.is(code, 0)
  for (const r of await Promise.all(inflight)) t.true(r === 200 || r === 'cut', String(r))
})
