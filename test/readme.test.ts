// README's examples run: every ```ts block that follows a `<!-- example -->` line is a whole program, run here in a
// child process (with `from 'hiexp'` pointed at this checkout, in an empty temporary folder), so that the README
// cannot drift from the API. Signature listings are not marked and are not run.
import test from 'ava'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runScript } from './helpers/run_child.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
const ENTRY = pathToFileURL(join(ROOT, 'lib', 'index.ts')).href

/** The marked examples, with the README line each starts on. */
function examples(): Array<{ line: number; code: string }> {
  const lines = README.split('\n')
  const out: Array<{ line: number; code: string }> = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '<!-- example -->') continue
    if (lines[i + 1]?.trim() !== '```ts') throw new Error(`README.md:${i + 1}: <!-- example --> must be followed by a \`\`\`ts block`)
    const end = lines.indexOf('```', i + 2)
    out.push({ line: i + 3, code: lines.slice(i + 2, end).join('\n') })
  }
  return out
}

const found = examples()

test('README marks its runnable examples', (t) => {
  t.true(found.length >= 6, `found ${found.length} examples`)
})

for (const { line, code } of found) {
  test(`README example at line ${line} runs`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hiexp-readme-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'example.mts')
    writeFileSync(file, code.replaceAll(/from 'hiexp'/g, `from '${ENTRY}'`))
    const result = await runScript(file, [], { cwd: dir, timeoutMs: 300_000 })
    t.is(result.code, 0, `README.md line ${line}:\n${result.output.slice(-3000)}`)
  })
}
