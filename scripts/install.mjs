#!/usr/bin/env node
// `npm install` for hiexp: make sure a libtorch is present (Debian's libtorch-dev through apt-get when root),
// build the native addon with cmake-js, then compile the TypeScript when the compiler is installed.
//   HIEXP_TORCH=auto|python|system  where to take libtorch from (auto: Torch_DIR, then Python's torch, then Debian's)
//   Torch_DIR=/path/to/share/cmake/Torch  a libtorch of your own
//   HIEXP_CUDA=AUTO|ON|OFF         CUDA kernels (AUTO: when nvcc exists and the libtorch has CUDA)
//   HIEXP_ADDON=/path/hiexp.node   use an addon built elsewhere (same hiexp version): no libtorch check, no build
// npm hides the output of a dependency's install script; `npm install --foreground-scripts` shows the build as it runs.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { closeSync, createWriteStream, existsSync, openSync, readdirSync, readFileSync, realpathSync, rmSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const nativeOnly = process.argv.includes('--native-only')
const DEBIAN_TORCH = '/usr/lib/x86_64-linux-gnu/cmake/Torch'
// Debian's libtorch with its companions (see COMPANIONS below).
const APT_PACKAGES = 'libtorch-dev libopenblas0-pthread libgloo-dev'
const APT_COMMAND = `apt-get update && apt-get install -y --no-install-recommends ${APT_PACKAGES}`
const OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread'

function log(message) {
  console.log(`hiexp install: ${message}`)
}

/**
 * A line the user sees although npm hides a dependency's install output (npm prints it only when the script fails):
 * written to the terminal itself when there is one, else to stderr (CI logs keep it).
 */
export function notice(message) {
  const line = `hiexp install: ${message}\n`
  try {
    const fd = openSync('/dev/tty', 'w')
    try {
      writeSync(fd, line)
    } finally {
      closeSync(fd)
    }
  } catch {
    process.stderr.write(line)
  }
}

/** The build log's place: beside build/, which cmake-js's clean step deletes after a log inside it was opened. */
export const BUILD_LOG = join(root, 'hiexp-build.log')

/** Removes everything in build/ but Release/. */
export function cleanBuild(dir) {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir)) if (entry !== 'Release') rmSync(join(dir, entry), { recursive: true, force: true })
}

/** hiexp installed into a project (not a checkout): nobody rebuilds it incrementally, so the objects can go. */
function isDependencyInstall() {
  return /[\\/]node_modules[\\/]/.test(realpathSync(root))
}

function pythonTorchDir() {
  const r = spawnSync('python3', ['-c', 'import torch,os;print(os.path.join(torch.utils.cmake_prefix_path,"Torch"))'], {
    encoding: 'utf8',
  })
  const dir = r.status === 0 ? r.stdout.trim() : ''
  return dir && existsSync(join(dir, 'TorchConfig.cmake')) ? dir : undefined
}

function debianTorchDir() {
  for (const dir of [DEBIAN_TORCH, '/usr/lib/aarch64-linux-gnu/cmake/Torch', '/usr/share/cmake/Torch']) {
    if (existsSync(join(dir, 'TorchConfig.cmake'))) return dir
  }
  return undefined
}

function installDebianTorch() {
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0
  if (!canApt()) {
    throw new Error(
      `hiexp needs libtorch and none was found.\n` +
        (hasApt ? `  Run as root:  ${APT_COMMAND}\n` : '') +
        `  or point Torch_DIR at a libtorch's share/cmake/Torch (for example the one inside PyTorch:\n` +
        `  python3 -c 'import torch;print(torch.utils.cmake_prefix_path)'), then run npm install again.`,
    )
  }
  log(`libtorch not found: installing Debian's ${APT_PACKAGES} (${APT_COMMAND})`)
  execFileSync('sh', ['-c', APT_COMMAND], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

function canApt() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  return isRoot && spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0
}

// Debian packages that Debian's libtorch wants beside it, each found by a file it installs. Installed as root when
// missing (a libtorch-dev installed earlier lacks them); otherwise a warning says what is lost and the command.
const COMPANIONS = [
  // libtorch calls the system libblas.so.3: the reference BLAS, ~10x slower, unless OpenBLAS is there.
  { pkg: 'libopenblas0-pthread', marker: OPENBLAS_DIR, without: "Debian's libtorch multiplies matrices with the slow reference BLAS" },
  // c10d's ProcessGroupGloo.hpp includes gloo's headers, which Debian ships apart from libtorch-dev.
  { pkg: 'libgloo-dev', marker: '/usr/include/gloo/algorithm.h', without: 'the addon is built without the gloo backend of hiexp.dist' },
]

function ensureCompanions(torchDir) {
  if (torchDir !== DEBIAN_TORCH) return
  for (const { pkg, marker, without } of COMPANIONS) {
    if (existsSync(marker)) continue
    if (!canApt()) {
      log(`warning: ${pkg} is missing, so ${without}; as root run: apt-get install -y ${pkg}`)
      continue
    }
    log(`installing ${pkg} (without it ${without})`)
    const install = `apt-get install -y --no-install-recommends ${pkg}`
    const r = spawnSync('sh', ['-c', `${install} || (apt-get update && ${install})`], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
    if (r.status !== 0) log(`warning: could not install ${pkg}, so ${without}`)
  }
}

function findTorch() {
  const mode = process.env.HIEXP_TORCH ?? 'auto'
  if (!['auto', 'python', 'system'].includes(mode)) throw new Error(`HIEXP_TORCH must be auto, python or system, got '${mode}'`)
  if (process.env.Torch_DIR) return process.env.Torch_DIR
  if (mode !== 'system') {
    const dir = pythonTorchDir()
    if (dir) return dir
    if (mode === 'python') throw new Error("HIEXP_TORCH=python but python3 cannot import torch")
  }
  let dir = debianTorchDir()
  if (!dir) {
    installDebianTorch()
    dir = debianTorchDir()
  }
  if (!dir) throw new Error(`libtorch-dev was installed but ${DEBIAN_TORCH}/TorchConfig.cmake is missing`)
  return dir
}

/**
 * Where a package is installed, found the way Node finds it from hiexp's folder: in hiexp's own node_modules (a
 * checkout, or npm's nested strategy) or hoisted into the consumer's node_modules.
 */
export function resolvePackageDir(name, from = root) {
  try {
    return dirname(createRequire(join(from, 'package.json')).resolve(`${name}/package.json`))
  } catch {
    return undefined
  }
}

/** cmake-js's command-line script, by module resolution. */
export function cmakeJsBin(from = root) {
  const dir = resolvePackageDir('cmake-js', from)
  if (!dir) return undefined
  const bin = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).bin
  return join(dir, typeof bin === 'string' ? bin : bin['cmake-js'])
}

function buildNative(torchDir) {
  const cmakeJs = cmakeJsBin()
  if (!cmakeJs) throw new Error(`cmake-js cannot be resolved from ${root} (it is one of hiexp's dependencies): reinstall hiexp, e.g. npm install hiexp`)
  // cmake-js adds node-addon-api's headers itself, resolved from this folder the same way.
  if (!resolvePackageDir('node-addon-api')) throw new Error(`node-addon-api cannot be resolved from ${root} (one of hiexp's dependencies): reinstall hiexp`)
  const cuda = process.env.HIEXP_CUDA ?? 'AUTO'
  const jobs = String(Math.max(1, Number(process.env.HIEXP_JOBS ?? 0) || (cores())))
  log(`building the addon against ${torchDir} (HIEXP_CUDA=${cuda}, ${jobs} jobs; cmake-js ${dirname(dirname(cmakeJs))})`)
  notice(`compiling the native addon (C++ on libtorch): about 2-5 minutes on ${jobs} cores, with no output until it ends; the log is ${BUILD_LOG}`)
  // A configure step that failed earlier leaves a build folder with no build file; cmake-js then needs a rebuild.
  const configured = ['build.ninja', 'Makefile'].some((f) => existsSync(join(root, 'build', f)))
  const args = [cmakeJs, configured ? 'build' : 'rebuild', '--directory', root, '--parallel', jobs, `--CDTorch_DIR=${torchDir}`, `--CDHIEXP_CUDA=${cuda}`]
  return runBuild(args)
}

/**
 * Runs cmake-js. On a terminal its output passes through as it is. Otherwise (CI, a log) the whole output goes to
 * hiexp-build.log (beside build/) and one line per build step ("[ 42%] Building CXX object …", errors) is printed, with the
 * log's tail when the build fails.
 */
function runBuild(args) {
  if (process.stdout.isTTY) {
    const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root })
    if (r.status !== 0) throw new Error(`the native build failed (exit ${r.status}); see the compiler output above`)
    return Promise.resolve()
  }
  const logFile = BUILD_LOG
  const file = createWriteStream(logFile)
  const tail = []
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    for (const stream of [child.stdout, child.stderr]) {
      stream.pipe(file, { end: false })
      createInterface({ input: stream }).on('line', (line) => {
        tail.push(line)
        if (tail.length > 40) tail.shift()
        if (/^\[\s*\d+%\]|^\[\d+\/\d+\]|error|^-- (Configuring|Generating|Build files)|^hiexp /i.test(line)) log(line.trim())
      })
    }
    child.on('error', reject)
    child.on('close', (code) => {
      file.end()
      if (code === 0) return resolve()
      reject(new Error(`the native build failed (exit ${code}); full output in ${logFile}, last lines:\n${tail.join('\n')}`))
    })
  })
}

/** An addon built elsewhere (HIEXP_ADDON): the loader uses it, so there is nothing to build here. */
function prebuiltAddon() {
  const file = process.env.HIEXP_ADDON
  if (!file) return undefined
  if (!existsSync(file)) throw new Error(`HIEXP_ADDON=${file} does not exist`)
  return file
}

function cores() {
  return Math.max(1, Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || 1)
}

function buildTypeScript() {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  if (!existsSync(tsc)) {
    log('TypeScript is not installed here (a production install): using the shipped dist/')
    return
  }
  log('compiling TypeScript to dist/')
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-ts.mjs')], { stdio: 'inherit', cwd: root })
  if (r.status !== 0) throw new Error('tsc failed; see its output above')
}

async function main() {
  const prebuilt = prebuiltAddon()
  if (prebuilt) {
    log(`using the addon at ${prebuilt} (HIEXP_ADDON): no native build; cmake-js resolves to ${cmakeJsBin() ?? '(not found)'}`)
  } else {
    const torchDir = findTorch()
    ensureCompanions(torchDir)
    await buildNative(torchDir)
    // ~15 MB of object files and build files that only an incremental rebuild in a checkout reads; without them a
    // later `npm rebuild hiexp` configures afresh. build/Release (the addon) stays.
    if (isDependencyInstall()) cleanBuild(join(root, 'build'))
  }
  if (!nativeOnly) buildTypeScript()
  log('done')
}

// Imported (by a test) only for its resolution helpers; run as a script, it installs.
if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1])) {
  main().catch((error) => {
    console.error(`\nhiexp install failed: ${error.message}`)
    process.exit(1)
  })
}
