import test from 'ava'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import * as hx from '../../lib/index.js'

test('two data-parallel ranks train one run: questions sharded, one metrics line per step, rank 0 checkpoints', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-dp-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = new PassThrough()
  let text = ''
  out.on('data', (d) => (text += d))
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), 120_000)
  const worker = new URL('./fixtures/dp_trainer.ts', import.meta.url).pathname
  const result = await hx.launch(
    { nproc: 2, timeoutMs: 30_000, env: { HIEXP_THREADS: '1' }, stdout: out, stderr: out, signal: abort.signal },
    [process.execPath, '--import=tsx', worker, dir],
  )
  clearTimeout(timer)
  t.is(result.exitCode, 0, text)
  t.regex(text, /\[rank 0\] rank done at step 2/)
  t.regex(text, /\[rank 1\] rank done at step 2/)
  const rows = hx.readMetrics(join(dir, 'metrics.jsonl'))
  t.deepEqual(rows.filter((r) => r.phase === 'rl').map((r) => r.step), [1, 2])
  t.deepEqual(rows.filter((r) => r.phase === 'validation').map((r) => r.step), [0, 2])
  t.true(existsSync(join(dir, 'checkpoint', 'hiexp_trainer.json')))
  // each rank keeps its own rollouts: 2 questions x 2 rollouts x 2 steps
  t.is(new hx.TrajectoryStore(join(dir, 'trajectories.jsonl')).read().length, 8)
  t.is(new hx.TrajectoryStore(join(dir, 'trajectories.rank1.jsonl')).read().length, 8)
})
