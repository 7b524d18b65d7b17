// The run config's JSON Schema (schema/train-config.schema.json) is generated from the zod schema and kept current;
// a config file naming it in "$schema" is accepted.
import test from 'ava'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseTrainConfig } from '../../lib/train/config.js'
import { SCHEMA_FILE, schemaText, trainConfigJsonSchema } from '../../scripts/train-config-schema.js'

test('schema/train-config.schema.json is the schema generated from TrainConfigSchema (regenerate: npx tsx scripts/train-config-schema.ts)', (t) => {
  t.is(readFileSync(SCHEMA_FILE, 'utf8'), schemaText())
})

test('the schema describes the config: strict blocks, enums, ranges and defaults as zod has them', (t) => {
  const schema = trainConfigJsonSchema() as { definitions: { TrainConfig: { properties: Record<string, any>; additionalProperties: boolean } } }
  const root = schema.definitions.TrainConfig
  t.false(root.additionalProperties)
  t.deepEqual(root.properties.algorithm.enum, ['grpo', 'gspo'])
  t.is(root.properties.algorithm.default, 'grpo')
  t.is(root.properties.groupSize.minimum, 1)
  t.deepEqual(root.properties.logger.items.enum, ['jsonl', 'tensorboard'])
  t.false(root.properties.experience.additionalProperties)
  t.is(root.properties.$schema.type, 'string')
})

test('"$schema" in a config file is accepted; the shipped example configs parse', (t) => {
  t.is(parseTrainConfig({ $schema: './node_modules/hiexp/schema/train-config.schema.json', steps: 3 }).steps, 3)
  const dir = new URL('../../examples/configs/', import.meta.url).pathname
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) t.notThrows(() => parseTrainConfig(JSON.parse(readFileSync(join(dir, f), 'utf8'))), f)
})
