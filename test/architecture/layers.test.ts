// The layering of lib/ (README.md "Layout"): every import goes to the same folder or to a lower layer, so the folder
// graph has no cycle. The import graph comes from madge (type-only imports included: a type cycle is still a cycle).
import test from 'ava'
import madge from 'madge'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Layers from the bottom; folders of one layer may not import each other. '.' is lib/ itself (cli.ts, index.ts). */
const LAYERS: readonly (readonly string[])[] = [
  ['native'],
  ['util'],
  ['ops/rl', 'ops/cluster', 'report'],
  ['distributed'],
  ['model', 'search'],
  ['env'],
  ['agent'],
  ['experience'],
  ['train'],
  ['experiments'],
  ['.'],
]

type Graph = Record<string, string[]>

/** The folder of a lib/ file, as named in LAYERS (the deepest LAYERS entry that contains it). */
function folderOf(file: string): string {
  const dir = dirname(relative('lib', file))
  const known = LAYERS.flat().filter((f) => f !== '.' && (dir === f || dir.startsWith(f + '/')))
  return known.sort((a, b) => b.length - a.length)[0] ?? dir
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.includes(folder))
}

/** Imports that break the layering: into an unknown folder, a sibling folder of the same layer, or a higher layer. */
export function layeringViolations(graph: Graph): string[] {
  const out: string[] = []
  for (const [file, deps] of Object.entries(graph)) {
    const from = folderOf(file)
    for (const dep of deps) {
      const to = folderOf(dep)
      if (from === to) continue
      const [lf, lt] = [layerOf(from), layerOf(to)]
      if (lf < 0) out.push(`${file}: folder lib/${from} is not in LAYERS`)
      else if (lt < 0) out.push(`${file} imports ${dep}: folder lib/${to} is not in LAYERS`)
      else if (lt >= lf) out.push(`${file} (lib/${from}, layer ${lf}) imports ${dep} (lib/${to}, layer ${lt})`)
    }
  }
  return out
}

/** Cycles of the folder graph (each as a list of folders), by depth-first search. */
export function folderCycles(graph: Graph): string[][] {
  const edges = new Map<string, Set<string>>()
  for (const [file, deps] of Object.entries(graph)) {
    const from = folderOf(file)
    if (!edges.has(from)) edges.set(from, new Set())
    for (const dep of deps) if (folderOf(dep) !== from) edges.get(from)!.add(folderOf(dep))
  }
  const cycles: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (node: string) => {
    state.set(node, 'open')
    path.push(node)
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next])
      else if (!state.has(next)) visit(next)
    }
    path.pop()
    state.set(node, 'done')
  }
  for (const node of [...edges.keys()].sort()) if (!state.has(node)) visit(node)
  return cycles
}

async function libGraph(): Promise<{ graph: Graph; circular: string[][] }> {
  const result = await madge(join(ROOT, 'lib'), {
    baseDir: ROOT,
    fileExtensions: ['ts'],
    tsConfig: join(ROOT, 'tsconfig.json'),
    detectiveOptions: { ts: { skipTypeImports: false } },
  })
  return { graph: result.obj(), circular: result.circular() }
}

test('the checker finds a folder cycle and an upward import in a graph made to have them', (t) => {
  const bad: Graph = {
    'lib/model/policy.ts': ['lib/ops/rl/types.ts', 'lib/train/config.ts'],
    'lib/train/config.ts': ['lib/model/policy.ts'],
    'lib/ops/rl/types.ts': [],
  }
  t.deepEqual(folderCycles(bad), [['model', 'train', 'model']])
  t.deepEqual(layeringViolations(bad), ['lib/model/policy.ts (lib/model, layer 4) imports lib/train/config.ts (lib/train, layer 8)'])
})

test('lib/ has no folder cycle, no file cycle, and imports only downwards', async (t) => {
  const { graph, circular } = await libGraph()
  t.true(Object.keys(graph).length > 50, `madge read ${Object.keys(graph).length} files`)
  t.true(graph['lib/train/trainer.ts']?.includes('lib/model/policy.ts'), 'the graph has the trainer → policy edge')
  t.deepEqual(folderCycles(graph), [])
  t.deepEqual(circular, [])
  t.deepEqual(layeringViolations(graph), [])
})
