// scripts/install.mjs as a dependency: cmake-js and node-addon-api are found where npm put them (hoisted into the
// consumer's node_modules), and the build shows a line per step when its output is not a terminal. A fake cmake-js
// stands in for the real build (minutes), so the test checks what the script does around it.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const script = new URL('../../scripts/install.mjs', import.meta.url).pathname

/** A consumer project with hiexp and its build tools hoisted side by side in node_modules, as npm installs them. */
function consumer(t: { teardown: (f: () => void) => void }, cmakeJsBody: string) {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-hoisted-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const modules = join(dir, 'node_modules')
  const hiexp = join(modules, 'hiexp')
  mkdirSync(join(hiexp, 'scripts'), { recursive: true })
  cpSync(script, join(hiexp, 'scripts', 'install.mjs'))
  writeFileSync(join(hiexp, 'package.json'), JSON.stringify({ name: 'hiexp', version: '0.0.0', type: 'module' }))
  mkdirSync(join(modules, 'cmake-js', 'bin'), { recursive: true })
  writeFileSync(join(modules, 'cmake-js', 'package.json'), JSON.stringify({ name: 'cmake-js', bin: { 'cmake-js': './bin/cmake-js' } }))
  writeFileSync(join(modules, 'cmake-js', 'bin', 'cmake-js'), cmakeJsBody)
  mkdirSync(join(modules, 'node-addon-api'), { recursive: true })
  writeFileSync(join(modules, 'node-addon-api', 'package.json'), JSON.stringify({ name: 'node-addon-api' }))
  return { dir, hiexp }
}

const install = (hiexp: string, env: Record<string, string>) =>
  spawnSync(process.execPath, [join(hiexp, 'scripts', 'install.mjs'), '--native-only'], {
    cwd: hiexp,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  })

// Like cmake-js's rebuild: the clean step removes build/ after the install script opened its log, then the build
// writes its objects and the addon into a new build/.
const FAKE_BUILD = `
const fs = require('node:fs')
fs.rmSync('build', { recursive: true, force: true })
fs.mkdirSync('build/CMakeFiles/x.dir', { recursive: true })
fs.writeFileSync('build/CMakeFiles/x.dir/x.o', 'object')
fs.writeFileSync('build/Makefile', '')
fs.mkdirSync('build/Release', { recursive: true })
fs.writeFileSync('build/Release/hiexp.node', 'addon')
console.log('-- Configuring done')
for (const p of [10, 50, 100]) console.log('[' + String(p).padStart(3) + '%] Building CXX object native/x' + p + '.cc.o')
console.log('some compiler chatter that is only in the log')
console.log('args ' + JSON.stringify(process.argv.slice(2)))
`

test('a hoisted cmake-js is found and run; not on a terminal, one line per build step and the rest in a log', (t) => {
  const { hiexp } = consumer(t, FAKE_BUILD)
  const r = install(hiexp, { Torch_DIR: '/opt/torch/share/cmake/Torch', HIEXP_ADDON: '' })
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /hiexp install: building the addon against \/opt\/torch\/share\/cmake\/Torch .*cmake-js .*node_modules\/cmake-js\)/)
  t.regex(r.stdout, /hiexp install: \[ 10%\] Building CXX object native\/x10.cc.o\n/)
  t.regex(r.stdout, /hiexp install: \[100%\] Building CXX object/)
  t.notRegex(r.stdout, /compiler chatter/)
  // The log survives the clean step (it lives beside build/), and says so once, visibly, before the silent minutes.
  const log = readFileSync(join(hiexp, 'hiexp-build.log'), 'utf8')
  t.regex(log, /some compiler chatter/)
  t.regex(log, /"--directory",".*node_modules\/hiexp"/)
  t.regex(r.stderr, /hiexp install: compiling the native addon \(C\+\+ on libtorch\): about 2-5 minutes .*the log is .*node_modules\/hiexp\/hiexp-build.log/)
  // Installed as a dependency, the build's objects are removed and the addon kept.
  t.deepEqual(readdirSync(join(hiexp, 'build')), ['Release'])
  t.true(existsSync(join(hiexp, 'build', 'Release', 'hiexp.node')))
})

test('a failed build names its log and shows its last lines', (t) => {
  const { hiexp } = consumer(t, `console.log('[ 5%] Building CXX object a.o'); console.error('a.cc:1: error: boom'); process.exit(2)`)
  const r = install(hiexp, { Torch_DIR: '/opt/torch', HIEXP_ADDON: '' })
  t.is(r.status, 1)
  t.regex(r.stderr, /hiexp install failed: the native build failed \(exit 2\); full output in .*node_modules\/hiexp\/hiexp-build.log, last lines:\n[^]*a.cc:1: error: boom/)
})

test('without cmake-js anywhere the advice is to reinstall hiexp, not to run npm install inside node_modules', (t) => {
  const { dir, hiexp } = consumer(t, FAKE_BUILD)
  rmSync(join(dir, 'node_modules', 'cmake-js'), { recursive: true })
  const r = install(hiexp, { Torch_DIR: '/opt/torch', HIEXP_ADDON: '' })
  t.is(r.status, 1)
  t.regex(r.stderr, /cmake-js cannot be resolved from .*node_modules\/hiexp \(it is one of hiexp's dependencies\): reinstall hiexp/)
})

test('HIEXP_ADDON skips the build and says where cmake-js would come from', (t) => {
  const { hiexp } = consumer(t, 'process.exit(3)')
  const addon = join(hiexp, 'prebuilt.node')
  writeFileSync(addon, '')
  const r = install(hiexp, { HIEXP_ADDON: addon })
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /using the addon at .*prebuilt.node \(HIEXP_ADDON\): no native build; cmake-js resolves to .*node_modules\/cmake-js\/bin\/cmake-js/)
  t.false(existsSync(join(hiexp, 'build')))
  const missing = install(hiexp, { HIEXP_ADDON: '/nonexistent/hiexp.node' })
  t.regex(missing.stderr, /HIEXP_ADDON=\/nonexistent\/hiexp.node does not exist/)
})
