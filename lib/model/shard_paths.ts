// Which files a checkpoint folder's weights live in, with the folder as a boundary: a weight_map entry in
// model.safetensors.index.json is data from whoever made the checkpoint, and must not make Policy.load open files
// elsewhere ('../../etc/passwd', an absolute path, or a symlink that points out of the folder).
import { closeSync, existsSync, openSync, readSync, realpathSync } from 'node:fs'
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
    const files = names.map((name) => checkpointFile(dir, name as string, index))
    checkShardPlacement(index, map as Record<string, string>, names as string[], files)
    return files
  }
  const single = join(dir, 'model.safetensors')
  if (!existsSync(single)) throw new Error(`Policy.load: neither ${single} nor ${index} exists`)
  return [checkpointFile(dir, 'model.safetensors', `Policy.load(${dir})`)]
}

/** safetensors' own cap on a header (100 MB). */
const MAX_HEADER_BYTES = 100_000_000

/**
 * The tensor names in a safetensors file's header, or undefined when the header cannot be read here (the native
 * loader then reports what is wrong with it, naming the file).
 */
function tensorNames(path: string): string[] | undefined {
  const fd = openSync(path, 'r')
  try {
    const len = Buffer.alloc(8)
    if (readSync(fd, len, 0, 8, 0) < 8) return undefined
    const n = len.readBigUInt64LE(0)
    if (n > BigInt(MAX_HEADER_BYTES)) return undefined
    const buf = Buffer.alloc(Number(n))
    let got = 0
    while (got < buf.length) {
      const r = readSync(fd, buf, got, buf.length - got, 8 + got)
      if (r === 0) return undefined
      got += r
    }
    const header: unknown = JSON.parse(buf.toString('utf8'))
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return undefined
    return Object.keys(header).filter((k) => k !== '__metadata__')
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/**
 * Each tensor is read from the shard the index names: the native loader reads the files in turn and a tensor present
 * in two of them would take the last one read. So a shard holding a tensor the index maps to another shard, or a shard
 * missing a tensor the index maps to it, is an error naming both. (A tensor the index does not list at all is ignored,
 * as the loader ignores any tensor the model has no parameter for.)
 */
export function checkShardPlacement(index: string, map: Record<string, string>, names: readonly string[], files: readonly string[]): void {
  names.forEach((name, i) => {
    const held = tensorNames(files[i])
    if (!held) return
    const inShard = new Set(held)
    for (const tensor of held) {
      const mapped = map[tensor]
      if (mapped !== undefined && mapped !== name) {
        throw new RangeError(`${index}: tensor '${tensor}' is also in shard '${name}', but the index maps it to '${mapped}': the checkpoint is ambiguous (each tensor must be in the one shard the index names)`)
      }
    }
    for (const [tensor, mapped] of Object.entries(map)) {
      if (mapped === name && !inShard.has(tensor)) throw new RangeError(`${index} maps tensor '${tensor}' to shard '${name}', which does not hold it`)
    }
  })
}
