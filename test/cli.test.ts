import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const cli = (args: string[]) =>
  run(process.execPath, ['--import=tsx', new URL('../lib/cli.ts', import.meta.url).pathname, ...args], { timeout: 60_000 })

test('hiexp --help lists the commands', async (t) => {
  const { stdout } = await cli(['--help'])
  for (const c of ['info', 'train', 'eval', 'compare', 'distill', 'build-hek', 'hek', 'report', 'bench', 'launch']) t.regex(stdout, new RegExp(`\\n  ${c}\\b`))
})

test('hiexp train with a bad configuration names the field and exits 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'bad.yaml'), 'groupSize: -2\n')
  const error = await t.throwsAsync(cli(['train', '--config', join(dir, 'bad.yaml')]))
  t.is((error as { code?: number }).code, 1)
  t.regex((error as unknown as { stderr: string }).stderr, /hiexp: train config: groupSize: Number must be greater than or equal to 1/)
  writeFileSync(join(dir, 'broken.json'), '{ "steps": ')
  const broken = await t.throwsAsync(cli(['train', '--config', join(dir, 'broken.json')]))
  t.regex((broken as unknown as { stderr: string }).stderr, /broken.json: not valid JSON/)
})

test('hiexp hek show on a missing file is a clear error', async (t) => {
  const error = await t.throwsAsync(cli(['hek', 'show', '/nonexistent/hek.json']))
  t.regex((error as unknown as { stderr: string }).stderr, /cannot read the HEK file \/nonexistent\/hek.json/)
})

test('hiexp build-hek wants exactly one source; distill needs a trajectory file', async (t) => {
  const error = await t.throwsAsync(cli(['build-hek', '-o', '/tmp/never.json']))
  t.regex((error as unknown as { stderr: string }).stderr, /give exactly one of --trajectories or --experiences/)
  const missing = await t.throwsAsync(cli(['distill']))
  t.regex((missing as unknown as { stderr: string }).stderr, /required option '-t, --trajectories <file>' not specified/)
})

test('hiexp compare checks --distiller before training', async (t) => {
  const bad = await t.throwsAsync(cli(['compare', '--distiller', 'teacher', '--out', '/tmp/never']))
  t.regex((bad as unknown as { stderr: string }).stderr, /--distiller must be offline, self or llm, got 'teacher'/)
  const llm = await t.throwsAsync(cli(['compare', '--distiller', 'llm', '--out', '/tmp/never']))
  t.regex((llm as unknown as { stderr: string }).stderr, /experience.llm: experience.distiller 'llm' needs experience.llm \{ baseURL, model \}/)
})
