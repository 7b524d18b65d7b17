// Issue 22 B13: a tensor is loaded from the shard model.safetensors.index.json names. A copy of it in another shard
// (which the loader, reading the files in turn, would let win) or an index entry pointing at a shard without it is an
// error naming the tensor and both shards.
import test from 'ava'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Policy } from '../../lib/model/policy.js'
import { tempDir, tinyPolicy } from './fixtures.js'

/** Adds `name` (zeros of the given entry's size) to the safetensors file `file`. */
function addTensor(file: string, name: string, like: { dtype: string; shape: number[]; data_offsets: [number, number] }): void {
  const bytes = readFileSync(file)
  const len = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString()) as Record<string, { data_offsets: [number, number] } & Record<string, unknown>>
  const data = bytes.subarray(8 + len)
  const size = like.data_offsets[1] - like.data_offsets[0]
  header[name] = { dtype: like.dtype, shape: like.shape, data_offsets: [data.length, data.length + size] }
  const json = Buffer.from(JSON.stringify(header))
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(json.length))
  writeFileSync(file, Buffer.concat([prefix, json, data, Buffer.alloc(size)]))
}

function headerOf(file: string) {
  const bytes = readFileSync(file)
  const len = Number(bytes.readBigUInt64LE(0))
  return JSON.parse(bytes.subarray(8, 8 + len).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>
}

async function sharded() {
  const dir = tempDir('hiexp-shards-')
  await (await tinyPolicy(6)).save(dir, { maxShardBytes: 20_000 })
  const indexFile = join(dir, 'model.safetensors.index.json')
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> }
  const shards = [...new Set(Object.values(index.weight_map))]
  const [tensor, home] = Object.entries(index.weight_map)[0]
  const other = shards.find((s) => s !== home)!
  return { dir, indexFile, index, tensor, home, other }
}

test('a sharded checkpoint loads; a copy of a tensor in a shard the index does not name for it is refused', async (t) => {
  const { dir, tensor, home, other } = await sharded()
  await t.notThrowsAsync(Policy.load(dir))
  addTensor(join(dir, other), tensor, headerOf(join(dir, home))[tensor])
  const e = await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError })
  t.is(e!.message, `${join(dir, 'model.safetensors.index.json')}: tensor '${tensor}' is also in shard '${other}', but the index maps it to '${home}': the checkpoint is ambiguous (each tensor must be in the one shard the index names)`)
})

test('an index entry naming a shard that does not hold the tensor is refused', async (t) => {
  const { dir, indexFile, index, tensor, other } = await sharded()
  const moved = { ...index, weight_map: { ...index.weight_map, [tensor]: other } }
  writeFileSync(indexFile, JSON.stringify(moved))
  await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError, message: new RegExp(`tensor '${tensor.replace(/\./g, '\\.')}' is also in shard '.*', but the index maps it to '${other}'|maps tensor '${tensor.replace(/\./g, '\\.')}' to shard '${other}', which does not hold it`) })
})
