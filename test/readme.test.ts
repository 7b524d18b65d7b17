// README's examples run: every ```ts block that follows a `<!-- example -->` line is a whole program, run here in a
// child process (with `from 'hiexp'` pointed at this checkout, in an empty temporary folder), so that the README
// cannot drift from the API. Signature listings are not marked and are not run.
import test from 'ava'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runScript } from './helpers/run_child.js'
// Shared with scripts/pack-check.sh, which type-checks the same examples against the packed package.
import { readmeExamples } from '../scripts/readme-examples.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
const ENTRY = pathToFileURL(join(ROOT, 'lib', 'index.ts')).href

const found = readmeExamples(README)

test('README marks its runnable examples', (t) => {
  t.true(found.length >= 6, `found ${found.length} examples`)
})

for (const { line, code, rerun } of found) {
  test(`README example at line ${line} runs${rerun ? ' twice, printing the same' : ''}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hiexp-readme-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'example.mts')
    writeFileSync(file, code.replaceAll(/from 'hiexp'/g, `from '${ENTRY}'`))
    const result = await runScript(file, [], { cwd: dir, timeoutMs: 300_000 })
    t.is(result.code, 0, `README.md line ${line}:\n${result.output.slice(-3000)}`)
    if (!rerun) return
    const again = await runScript(file, [], { cwd: dir, timeoutMs: 300_000 })
    t.is(again.code, 0, again.output.slice(-3000))
    // Timestamps (a HEK's createdAt) differ between runs; everything else must not.
    const stamp = (text: string) => text.replaceAll(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    t.is(stamp(again.output), stamp(result.output), `README.md line ${line}: a second run in the same folder printed something else`)
  })
}
