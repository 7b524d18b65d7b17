import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'

function parseNamed(path: string, text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new SyntaxError(`${path}: not valid JSON (${(error as Error).message})`)
  }
}

/** Parses a JSON file; a file that is not JSON is an error naming it (a bare SyntaxError names nothing). */
export function readJsonFileSync(path: string): unknown {
  return parseNamed(path, readFileSync(path, 'utf8'))
}

export async function readJsonFile(path: string): Promise<unknown> {
  return parseNamed(path, await readFile(path, 'utf8'))
}
