// Issue 22 B16: every numeric option of the CLI is read by one validator (lib/util/integer_args.ts): the whole text an
// integer in range, lists without empty items or repeats. Before, '' read as 0 (`--seeds 0,,1` trained seed 0 twice,
// `--steps ""` trained 0 steps and exited 0), `--limit -3` evaluated all but the last 3, `--seeds -1` made seed--1/.
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseLaunchArgs } from '../lib/distributed/launch_cli.js'
import { parseIntegerArg, parseIntegerListArg } from '../lib/util/integer_args.js'

const run = promisify(execFile)
const cli = (args: string[]) => run(process.execPath, ['--import=tsx', new URL('../lib/cli.ts', import.meta.url).pathname, ...args], { timeout: 120_000 })
const stderrOf = (error: unknown) => (error as { stderr: string }).stderr

test('integers: the whole text, in range; lists: no empty item, no repeat', (t) => {
  t.is(parseIntegerArg('12', '--n'), 12)
  t.is(parseIntegerArg(' -3 ', '--n'), -3)
  for (const bad of ['', ' ', '1.5', '1e3', '0x10', '12abc', 'NaN', 'Infinity', '99999999999999999999']) {
    t.throws(() => parseIntegerArg(bad, '--n'), { instanceOf: RangeError, message: `--n must be an integer, got ${JSON.stringify(bad)}` }, bad)
  }
  t.throws(() => parseIntegerArg('-1', '--steps', { min: 0 }), { message: '--steps must be an integer >= 0, got "-1"' })
  t.throws(() => parseIntegerArg('70000', '--port', { min: 0, max: 65535 }), { message: '--port must be an integer in [0, 65535], got "70000"' })
  t.deepEqual(parseIntegerListArg('0,1,2', '--seeds', { min: 0 }), [0, 1, 2])
  t.throws(() => parseIntegerListArg('0,,1', '--seeds', { min: 0 }), { message: '--seeds must be a comma-separated list of integers >= 0; item 2 is "" (in "0,,1")' })
  t.throws(() => parseIntegerListArg('0,1,', '--seeds', { min: 0 }), { message: /item 3 is ""/ })
  t.throws(() => parseIntegerListArg('-1', '--seeds', { min: 0 }), { message: /item 1 is "-1"/ })
  t.throws(() => parseIntegerListArg('3,1,3', '--seeds'), { message: '--seeds repeats 3 (in "3,1,3"): each value once' })
})

test('hiexp launch reads its numbers with the same validator', (t) => {
  t.throws(() => parseLaunchArgs(['--nproc', '2', '--node-rank', '', '--', 'x']), { instanceOf: RangeError, message: 'hiexp launch: --node-rank must be an integer >= 0, got ""' })
  t.throws(() => parseLaunchArgs(['--nproc', '0', '--', 'x']), { message: 'hiexp launch: --nproc must be an integer in [1, 1024], got "0"' })
  t.throws(() => parseLaunchArgs(['--nproc', '2', '--master-port=99999', '--', 'x']), { message: /--master-port must be an integer in \[1, 65535\], got "99999"/ })
  t.throws(() => parseLaunchArgs(['--nproc', '2', '--nproc', '3', '--', 'x']), { message: 'hiexp launch: --nproc is given twice' })
  t.deepEqual(parseLaunchArgs(['--nproc', '2', '--node-rank', '0', '--', 'x']).options, { nproc: 2, nodeRank: 0 })
})

test('the CLI refuses empty, negative and repeated numbers before doing anything', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-cli-options-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = join(dir, 'run')
  const cases: Array<[string[], RegExp]> = [
    [['train', '--steps', '', '-o', out], /option '--steps <n>' argument '' is invalid\. --steps must be an integer >= 0, got ""/],
    [['compare', '--seeds', '0,,1', '-o', out], /--seeds must be a comma-separated list of integers in \[0, 4294967295\]; item 2 is ""/],
    [['compare', '--seeds', '0,1,0', '-o', out], /--seeds repeats 0 \(in "0,1,0"\): each value once/],
    [['compare', '--seeds=-1', '-o', out], /--seeds must be a comma-separated list of integers in \[0, 4294967295\]; item 1 is "-1"/],
    [['compare', '--methods', 'grpo,grpo', '-o', out], /--methods repeats grpo: each method once/],
    [['eval', '--limit=-3', '-o', out], /option '--limit <n>' argument '-3' is invalid\. --limit must be an integer >= 1, got "-3"/],
  ]
  for (const [args, re] of cases) {
    const e = await t.throwsAsync(cli(args), undefined, args.join(' '))
    t.not((e as { code?: number }).code, 0, args.join(' '))
    t.regex(stderrOf(e), re, args.join(' '))
  }
  t.false(existsSync(out), 'nothing was written')
})
