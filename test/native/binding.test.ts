// The typed boundary matches the built addon: it exports exactly the functions lib/native/binding.ts declares.
// (tsc checks the other direction: NATIVE_FUNCTIONS and the HiexpAddon interface name the same functions.)
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { NATIVE_FUNCTIONS } from '../../lib/native/binding.js'
import { packageRoot } from '../../lib/native/loader.js'

const version = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string

function addonExports(): Record<string, unknown> {
  const file = process.env.HIEXP_ADDON ?? join(packageRoot(), 'build', 'Release', 'hiexp.node')
  if (!existsSync(file)) throw new Error(`${file} is missing: npm run build:native`)
  return createRequire(import.meta.url)(file) as Record<string, unknown>
}

test('the addon exports exactly the functions binding.ts declares', (t) => {
  const exported = addonExports()
  const declared = new Set<string>(NATIVE_FUNCTIONS)
  const actual = new Set(Object.keys(exported))
  t.deepEqual([...actual].filter((name) => !declared.has(name)).sort(), [], 'exported by the addon but not declared in lib/native/binding.ts')
  t.deepEqual([...declared].filter((name) => !actual.has(name)).sort(), [], 'declared in lib/native/binding.ts but not exported by the addon')
  for (const name of NATIVE_FUNCTIONS) t.is(typeof exported[name], 'function', name)
})

test('NATIVE_FUNCTIONS names each function once', (t) => {
  t.is(new Set(NATIVE_FUNCTIONS).size, NATIVE_FUNCTIONS.length)
})

test('native() refuses a build that lacks a declared function, naming it and the rebuild command', (t) => {
  // A stand-in addon (a CommonJS module) with info() alone; native() caches, so this runs in a child process.
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-binding-'))
  const fake = join(dir, 'fake.cjs')
  writeFileSync(fake, `module.exports = { info: () => ({ version: ${JSON.stringify(version)} }) }`)
  const loader = pathToFileURL(join(packageRoot(), 'lib', 'native', 'loader.ts')).href
  const child = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', `
    const { native } = await import(${JSON.stringify(loader)})
    try { native(); console.log('loaded') } catch (error) { console.log(error.message) }`], {
    env: { ...process.env, HIEXP_ADDON: fake },
    encoding: 'utf8',
  })
  rmSync(dir, { recursive: true, force: true })
  t.is(child.status, 0, child.stderr)
  t.regex(child.stdout, /lacks setThreads, groupAdvantages, .*distBroadcastPolicy \(a stale build\?\)/)
  t.regex(child.stdout, /Rebuild it with: .*npm run build:native/)
})
