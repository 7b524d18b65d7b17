// The shuffled-HEK control (content vs mere context): the same texts and the same matching keys, with each level's
// texts moved to nodes of other question types, so that retrieval fires as often but says what another kind of
// question needed.
import { Random } from '../util/random.js'
import { HierarchicalExperience } from './hek.js'

/**
 * A copy of `hek` whose node texts (and the reflections behind them) are permuted within each level: nodes are ordered
 * by hop count (ties in a seeded order) and each takes the text of the node half the level away, which for levels
 * with more than one node never leaves a node its own text and mostly gives it one of another hop count.
 */
export function shuffledHek(hek: HierarchicalExperience, seed: number): HierarchicalExperience {
  const file = structuredClone(hek.toJSON())
  const byId = new Map(file.nodes.map((n) => [n.id, n]))
  const rng = new Random(seed).fork('shuffled-hek')
  for (const level of file.levels) {
    const nodes = rng.shuffle(level.nodes.map((id) => byId.get(id)!)).sort((a, b) => (a.hops ?? 0) - (b.hops ?? 0))
    const n = nodes.length
    if (n < 2) continue
    const contents = nodes.map((x) => ({ text: x.text, thinking: x.thinking }))
    const shift = Math.ceil(n / 2)
    nodes.forEach((x, k) => Object.assign(x, contents[(k + shift) % n]))
  }
  return HierarchicalExperience.fromJSON(file, 'shuffled HEK')
}
