// Editors show each run-config field's documentation (TrainConfig is the documented TrainConfigInput, checked against
// the zod schema at compile time): asked here of TypeScript's language service, as an editor asks on hover.
import test from 'ava'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

function hover(code: string, at: string): string {
  const file = join(ROOT, 'test', 'train', '__hover__.ts')
  const options: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, skipLibCheck: true }
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => [file],
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) => (name === file ? ts.ScriptSnapshot.fromString(code) : ts.sys.fileExists(name) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(name)!) : undefined),
    getCurrentDirectory: () => ROOT,
    getCompilationSettings: () => options,
    getDefaultLibFileName: ts.getDefaultLibFilePath,
    fileExists: (name) => name === file || ts.sys.fileExists(name),
    readFile: (name) => (name === file ? code : ts.sys.readFile(name)),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  }
  const service = ts.createLanguageService(host)
  const info = service.getQuickInfoAtPosition(file, code.indexOf(at) + 1)
  return ts.displayPartsToString(info?.documentation ?? [])
}

test('hovering a TrainConfig field shows its documentation, nested blocks included', (t) => {
  const code = `import type { TrainConfig } from '../../lib/train/config.js'
const c: TrainConfig = { groupSize: 3, loss: { clipHigh: 0.28 }, rollout: { chat: 'search-r1' }, logger: ['jsonl'] }
void c\n`
  t.regex(hover(code, 'groupSize'), /Rollouts per question \(G\)/)
  t.regex(hover(code, 'clipHigh'), /Default by algorithm: GRPO 0\.2, GSPO 4e-4/)
  t.regex(hover(code, 'chat'), /Search-R1's instruct format/)
  t.regex(hover(code, 'logger'), /verl's trainer\.logger/)
})
