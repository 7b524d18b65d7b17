// Writes schema/train-config.schema.json: the JSON Schema of a run configuration, generated from the zod schema
// (TrainConfigSchema, lib/train/config.ts) so that editors complete and check config files that name it in "$schema".
// `npx tsx scripts/train-config-schema.ts` after changing the schema; test/train/config_schema.test.ts fails until then.
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { zodToJsonSchema } from 'zod-to-json-schema'
import { TrainConfigSchema } from '../lib/train/config.js'

export const SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'schema', 'train-config.schema.json')

/** The schema of what a config file may hold (the input side: every field with a default is optional). */
export function trainConfigJsonSchema(): Record<string, unknown> {
  const schema = zodToJsonSchema(TrainConfigSchema, { name: 'TrainConfig', effectStrategy: 'input', $refStrategy: 'none' }) as Record<string, unknown>
  return { ...schema, title: 'hiexp run configuration', description: 'hiexp train / compare configuration (lib/train/config.ts)' }
}

export function schemaText(): string {
  return JSON.stringify(trainConfigJsonSchema(), null, 2) + '\n'
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, schemaText())
  console.log(`wrote ${SCHEMA_FILE}`)
}
