// Which files a checkpoint folder's weights live in, with the folder as a boundary: a weight_map entry in
// model.safetensors.index.json is data from whoever made the checkpoint, and must not make Policy.load open files
// elsewhere ('../../etc/passwd', an absolute path, or a symlink that points out of the folder).
import { existsSync, realpathSync } from 'node:fs'
import { readJsonFile } from '../util/json_file.js'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'

function inside(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel))
}

/**
 * The real folders a checkpoint's files may resolve into: the folder itself and, for a Hugging Face hub cache snapshot
 * (…/snapshots/<revision>/, whose files are symlinks to ../../blobs/<hash>), that repository's blobs folder.
 */
function allowedRoots(dir: string): string[] {
  const root = realpathSync(dir)
  const roots = [root]
  if (basename(dirname(resolve(dir))) === 'snapshots') {
    const blobs = join(resolve(dir), '..', '..', 'blobs')
    if (existsSync(blobs)) roots.push(realpathSync(blobs))
  }
  return roots
}

/** Resolves one weight file name against the folder; throws naming `source` when it leaves the folder. */
export function checkpointFile(dir: string, name: string, source: string): string {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${source}: a shard name must be a non-empty string, got ${JSON.stringify(name)}`)
  if (isAbsolute(name) || name.includes('\0')) throw new RangeError(`${source}: shard '${name}' must be a file name inside the checkpoint folder, not an absolute path`)
  const path = resolve(dir, name)
  if (!inside(resolve(dir), path)) throw new RangeError(`${source}: shard '${name}' resolves outside the checkpoint folder ${dir}`)
  if (!existsSync(path)) throw new Error(`${source} names ${path}, which is missing`)
  const real = realpathSync(path)
  if (!allowedRoots(dir).some((root) => inside(root, real))) {
    throw new RangeError(`${source}: shard '${name}' is a symlink to ${real}, outside the checkpoint folder ${dir}`)
  }
  return path
}

/** The safetensors files of a Hugging Face checkpoint folder (sharded through its index, or model.safetensors). */
export async function checkpointWeightFiles(dir: string): Promise<string[]> {
  const index = join(dir, 'model.safetensors.index.json')
  if (existsSync(index)) {
    const parsed = (await readJsonFile(index)) as { weight_map?: unknown }
    const map = parsed.weight_map
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw new TypeError(`${index}: weight_map is missing`)
    const names = [...new Set(Object.values(map as Record<string, unknown>))]
    return names.map((name) => checkpointFile(dir, name as string, index))
  }
  const single = join(dir, 'model.safetensors')
  if (!existsSync(single)) throw new Error(`Policy.load: neither ${single} nor ${index} exists`)
  return [checkpointFile(dir, 'model.safetensors', `Policy.load(${dir})`)]
}
