#!/usr/bin/env node
// Compiles lib/ to dist/ and makes the declarations stand alone for a consumer: TypeScript >= 6 no longer loads
// @types/node unless asked (its default "types" is empty), and hiexp's API names Node's types (Buffer, streams,
// NodeJS.ProcessEnv), so the entry declaration references them itself (and @types/node is a dependency).
import { spawnSync } from 'node:child_process'
import { readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const REFERENCE = '/// <reference types="node" />\n'

export function addNodeReference(file) {
  const text = readFileSync(file, 'utf8')
  if (!text.startsWith(REFERENCE)) writeFileSync(file, REFERENCE + text)
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })
  if (r.status !== 0) process.exit(r.status ?? 1)
  addNodeReference(join(root, 'dist', 'lib', 'index.d.ts'))
}
