// The one place that loads the addon. A missing, stale or foreign build becomes an error that says how to rebuild.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NATIVE_FUNCTIONS, type HiexpAddon } from './binding.js'
import { rebuildCommand } from './rebuild.js'

/** The package root: the nearest folder above this file whose package.json is hiexp's (works from lib/ and dist/lib/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'hiexp') return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error('hiexp: cannot find its own package.json above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}

/** The addon's functions, typed at the boundary (binding.ts). */
export type NativeAddon = HiexpAddon

let addon: HiexpAddon | undefined

export function native(): HiexpAddon {
  if (addon) return addon
  const root = packageRoot()
  const file = process.env.HIEXP_ADDON ?? join(root, 'build', 'Release', 'hiexp.node')
  const rebuild = rebuildCommand(root)
  if (!existsSync(file)) {
    throw new Error(`hiexp: the native addon is not built (${file} is missing).\n  Build it with: ${rebuild}`)
  }
  // libtorch logs through glog, uninitialised in a Node process: its first INFO/WARNING line comes with "WARNING:
  // Logging before InitGoogleLogging() is written to STDERR". glog reads its flags from the environment when the
  // library loads, so errors only (2) unless the user chose a level.
  process.env.GLOG_minloglevel ??= '2'
  let loaded: Record<string, unknown>
  try {
    loaded = createRequire(import.meta.url)(file) as Record<string, unknown>
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(
      `hiexp: the native addon at ${file} could not be loaded (built for another Node.js, platform or libtorch?).\n` +
        `  ${reason}\n  Rebuild it with: ${rebuild}`,
    )
  }
  // The one place where the addon's untyped exports become HiexpAddon: every declared function must be there, or
  // the build is older (or newer) than this TypeScript.
  const missing = NATIVE_FUNCTIONS.filter((name) => typeof loaded[name] !== 'function')
  if (missing.length > 0) {
    throw new Error(`hiexp: the native addon at ${file} lacks ${missing.join(', ')} (a stale build?).\n  Rebuild it with: ${rebuild}`)
  }
  const typed = loaded as unknown as HiexpAddon
  const expected = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string
  const built = typed.info().version
  if (built !== expected) {
    throw new Error(`hiexp: the native addon is stale (built for hiexp ${built}, this is ${expected}).\n  Rebuild it with: ${rebuild}`)
  }
  addon = typed
  return addon
}
