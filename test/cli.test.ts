import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { HierarchicalExperience } from '../lib/experience/hek.js'

const run = promisify(execFile)
const cli = (args: string[]) =>
  run(process.execPath, ['--import=tsx', new URL('../lib/cli.ts', import.meta.url).pathname, ...args], { timeout: 240_000 })

test.serial('hiexp --help lists the commands', async (t) => {
  const { stdout } = await cli(['--help'])
  for (const c of ['info', 'train', 'eval', 'compare', 'distill', 'build-hek', 'hek', 'report', 'bench', 'serve-retrieval', 'launch']) t.regex(stdout, new RegExp(`\\n  ${c}\\b`))
})

test.serial('hiexp train with a bad configuration names the field and exits 1', async (t) => {
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

test.serial('hiexp hek show on a missing file is a clear error', async (t) => {
  const error = await t.throwsAsync(cli(['hek', 'show', '/nonexistent/hek.json']))
  t.regex((error as unknown as { stderr: string }).stderr, /cannot read the HEK file \/nonexistent\/hek.json/)
})

test.serial('hiexp build-hek wants exactly one source; distill needs a trajectory file', async (t) => {
  const error = await t.throwsAsync(cli(['build-hek', '-o', '/tmp/never.json']))
  t.regex((error as unknown as { stderr: string }).stderr, /give exactly one of --trajectories or --experiences/)
  const missing = await t.throwsAsync(cli(['distill']))
  t.regex((missing as unknown as { stderr: string }).stderr, /required option '-t, --trajectories <file>' not specified/)
})

test.serial('hiexp compare checks --distiller before training', async (t) => {
  const bad = await t.throwsAsync(cli(['compare', '--distiller', 'teacher', '--out', '/tmp/never']))
  t.regex((bad as unknown as { stderr: string }).stderr, /--distiller must be offline, self or llm, got 'teacher'/)
  const llm = await t.throwsAsync(cli(['compare', '--distiller', 'llm', '--out', '/tmp/never']))
  t.regex((llm as unknown as { stderr: string }).stderr, /experience.llm: experience.distiller 'llm' needs experience.llm \{ baseURL, model \}/)
})

const stderrOf = (error: unknown) => (error as { stderr: string }).stderr

test.serial('hiexp --version prints the package version; launch --help its usage, exit 0', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  t.is((await cli(['--version'])).stdout.trim(), pkg.version)
  const help = await cli(['launch', '--help'])
  t.regex(help.stdout, /^usage: hiexp launch --nproc N .* -- <program> \[args…\]\n/)
  t.regex(help.stdout, /torchrun's variables/)
})

test.serial('hiexp distill with a missing or empty trajectory file fails and leaves the output untouched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'experiences.json')
  writeFileSync(out, '[{"kept":true}]')
  const missing = await t.throwsAsync(cli(['distill', '-t', join(dir, 'missing.jsonl'), '-o', out]))
  t.is((missing as { code?: number }).code, 1)
  t.regex(stderrOf(missing), /hiexp: cannot read the trajectories file .*missing.jsonl: no such file \(nothing was written\)/)
  writeFileSync(join(dir, 'empty.jsonl'), '')
  const empty = await t.throwsAsync(cli(['distill', '-t', join(dir, 'empty.jsonl'), '-o', out]))
  t.regex(stderrOf(empty), /holds no trajectory: nothing to distill \(nothing was written\)/)
  t.is(readFileSync(out, 'utf8'), '[{"kept":true}]')
})

test.serial('hiexp eval on a folder without a trained run fails and creates nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const missing = join(dir, 'missing-dir')
  const error = await t.throwsAsync(cli(['eval', '-o', missing]))
  t.is((error as { code?: number }).code, 1)
  t.regex(stderrOf(error), /hiexp: eval: .*missing-dir holds no trained run \(.*checkpoint\/hiexp_trainer.json is missing\): train one first/)
  t.false(existsSync(missing))
})

test.serial('a finished run: rerunning train prints its last validation (no undefined), eval prints a table or --json', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = join(dir, 'tiny.json')
  writeFileSync(config, JSON.stringify({ steps: 1, questionsPerStep: 1, groupSize: 2, warmStart: { steps: 1, batchSize: 2 }, validation: { every: 1, questions: 2 }, task: { world: { questionsPerHop: 10 } } }))
  const out = join(dir, 'run')
  const first = await cli(['train', '-c', config, '-o', out])
  t.regex(first.stdout, /^done in \d+ s: validation EM \d\.\d{3} F1 \d\.\d{3} \(step 1\); metrics .*; curves .*training\.png$/m)
  t.notRegex(first.stdout, /with HEK/) // not a HiExp run
  const again = await cli(['train', '-c', config, '-o', out])
  t.notRegex(again.stdout, /undefined|NaN/)
  t.regex(again.stdout, /^already complete at step 1 \(nothing to do\): validation EM \d\.\d{3} F1 \d\.\d{3} \(step 1\)/m)
  const table = await cli(['eval', '-c', config, '-o', out, '--limit', '3'])
  t.regex(table.stdout, /^test split, 3 questions, step 1 of .*\n\nEM without the HEK:\n/)
  t.notRegex(table.stdout, /with the HEK/)
  const hek = await t.throwsAsync(cli(['eval', '-o', out, '--hek']))
  t.regex(stderrOf(hek), /eval: --hek needs a HiExp run/)
  t.regex(table.stdout, /\nquestions +n +EM +F1 +CEM +searches +repeated +tokens\n/)
  t.regex(table.stdout, /\nall +3 +\d\.\d{3} /)
  const json = JSON.parse((await cli(['eval', '-c', config, '-o', out, '--limit', '3', '--json'])).stdout) as { n: number; em: number }
  t.is(json.n, 3)
})

test.serial('a HiExp run: the done line, hiexp eval (table and --json) and hiexp report show EM with the HEK beside EM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { HierarchicalExperience } = await import('../lib/index.js')
  const advice = ['Search the first entity named in the question before anything else', 'Do not answer before any search']
  ;(await HierarchicalExperience.build(advice.map((text, i) => ({ id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any', taskType: 'any', support: 5, successRate: 0.8, sources: [] })))).save(join(dir, 'hek.json'))
  const config = join(dir, 'tiny.json')
  writeFileSync(config, JSON.stringify({ steps: 1, questionsPerStep: 1, groupSize: 2, warmStart: { steps: 1, batchSize: 2 }, validation: { every: 1, questions: 2 }, task: { world: { questionsPerHop: 10 } }, experience: { enabled: true, hekFile: join(dir, 'hek.json') } }))
  const out = join(dir, 'run')
  const first = await cli(['train', '-c', config, '-o', out])
  t.regex(first.stdout, /^done in \d+ s: validation EM \d\.\d{3} F1 \d\.\d{3} · EM with HEK \d\.\d{3} F1 with HEK \d\.\d{3} \(step 1\)/m)
  t.regex(first.stderr, /step 1: validation EM \d\.\d{3} F1 \d\.\d{3} · EM with HEK \d\.\d{3}/)
  const table = await cli(['eval', '-o', out, '--limit', '3'])
  t.regex(table.stdout, /EM without the HEK:\n[^]*\nall +3 +\d\.\d{3} [^]*EM with the HEK \(HiExp's number[^\n]*\n[^]*\nall +3 +\d\.\d{3} /)
  const json = JSON.parse((await cli(['eval', '-o', out, '--limit', '3', '--json'])).stdout) as { n: number; em: number; withHek?: { n: number; em: number } }
  t.is(json.n, 3)
  t.is(json.withHek?.n, 3)
  const plain = JSON.parse((await cli(['eval', '-o', out, '--limit', '3', '--json', '--no-hek'])).stdout) as { withHek?: unknown }
  t.is(plain.withHek, undefined)
  const report = await cli(['report', `hiexp-grpo=${join(out, 'metrics.jsonl')}`, '-o', join(dir, 'curves')])
  t.regex(report.stdout, /^hiexp-grpo: validation EM \d\.\d{3} F1 \d\.\d{3} · EM with HEK \d\.\d{3}/m)
  t.regex(readFileSync(join(dir, 'curves.svg'), 'utf8'), /EM with HEK/)
})

test.serial('missing files are named: train -c, report NAME=file (not "no rl rows")', async (t) => {
  const config = await t.throwsAsync(cli(['train', '-c', '/nonexistent/run.json']))
  t.regex(stderrOf(config), /hiexp: train config: cannot read \/nonexistent\/run\.json: no such file/)
  const report = await t.throwsAsync(cli(['report', 'x=/nonexistent/metrics.jsonl']))
  t.regex(stderrOf(report), /readMetrics: \/nonexistent\/metrics\.jsonl: no such file/)
  t.notRegex(stderrOf(report), /no rl/)
  const corpus = await t.throwsAsync(cli(['serve-retrieval', '--corpus', '/nonexistent/corpus.jsonl', '--port', '0']))
  t.regex(stderrOf(corpus), /hiexp: loadCorpusJsonl \(corpus\): cannot read \/nonexistent\/corpus\.jsonl: no such file/)
})

test.serial('hiexp serve-retrieval serves the generated world over Search-R1\'s API', async (t) => {
  const child = spawn(process.execPath, ['--import=tsx', new URL('../lib/cli.ts', import.meta.url).pathname, 'serve-retrieval', '--world', '0', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => void child.kill('SIGKILL'))
  const url = await new Promise<string>((done, reject) => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const m = /listening on (\S+) \((\d+) passages\)/.exec(text)
      if (m) done(m[1])
    })
    child.on('exit', (code) => reject(new Error(`serve-retrieval exited with ${code}`)))
  })
  const reply = (await (await fetch(url, { method: 'POST', body: JSON.stringify({ queries: ['born in'], topk: 2 }) })).json()) as { result: unknown[][] }
  t.is(reply.result.length, 1)
  t.is(reply.result[0].length, 2)
})

test.serial("a finished HiExp run, rerun, still shows its number with the HEK beside the one without (npm start's last line)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const hek = await HierarchicalExperience.build(
    ['Search the entity named in the question', 'Do not answer before any search'].map((text, i) => ({
      id: `e${i}`, text, kind: 'success-pattern' as const, when: 'any question', taskType: 'any', support: 4, successRate: 0.75, sources: [],
    })),
  )
  hek.save(join(dir, 'hek.json'))
  const config = join(dir, 'hiexp.json')
  writeFileSync(config, JSON.stringify({
    steps: 1, questionsPerStep: 1, groupSize: 2, warmStart: { steps: 1, batchSize: 2 }, validation: { every: 1, questions: 2 },
    task: { world: { questionsPerHop: 10 } }, experience: { enabled: true, hekFile: join(dir, 'hek.json') },
  }))
  const out = join(dir, 'run')
  const first = await cli(['train', '-c', config, '-o', out])
  t.regex(first.stdout, /^done in \d+ s: validation EM \d\.\d{3} F1 \d\.\d{3} · EM with HEK \d\.\d{3}/m)
  const again = await cli(['train', '-c', config, '-o', out])
  t.regex(again.stdout, /^already complete at step 1 \(nothing to do\): validation EM \d\.\d{3} F1 \d\.\d{3} · EM with HEK \d\.\d{3} F1 with HEK \d\.\d{3} \(step 1\)/m)
})
