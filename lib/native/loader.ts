// The one place that loads the addon. A missing, stale or foreign build becomes an error that says how to rebuild.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

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

// The addon's functions are typed where they are wrapped (lib/<stage>/…); here it is an opaque record.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeAddon = Record<string, any>

let addon: NativeAddon | undefined

export function native(): NativeAddon {
  if (addon) return addon
  const root = packageRoot()
  const file = process.env.HIEXP_ADDON ?? join(root, 'build', 'Release', 'hiexp.node')
  const rebuild = `cd ${root} && npm run build:native`
  if (!existsSync(file)) {
    throw new Error(`hiexp: the native addon is not built (${file} is missing).\n  Build it with: ${rebuild}`)
  }
  let loaded: NativeAddon
  try {
    loaded = createRequire(import.meta.url)(file) as NativeAddon
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new Error(
      `hiexp: the native addon at ${file} could not be loaded (built for another Node.js, platform or libtorch?).\n` +
        `  ${reason}\n  Rebuild it with: ${rebuild}`,
    )
  }
  const expected = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string
  const built = loaded.info().version as string
  if (built !== expected) {
    throw new Error(`hiexp: the native addon is stale (built for hiexp ${built}, this is ${expected}).\n  Rebuild it with: ${rebuild}`)
  }
  addon = loaded
  return addon
}
