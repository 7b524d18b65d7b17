// The world's questions: every chain of 1 to 4 hops through the graph, asked as a nested question whose evidence is
// the passage stating each hop; then a seeded choice per hop count, cut into stratified splits.
import type { Random } from '../util/random.js'
import { stratifiedSplits } from './splits.js'
import type { QaExample, Splits } from './types.js'
import { HOPS, type Hop, type HopIndex } from './world_hops.js'
import { questionsFor, type ResolvedWorldOptions } from './world_options.js'
import type { Entity } from './world_types.js'

/** Every question of the asked hop counts, by hop count, in walk order (ids are set when chosen). */
export function enumerateQuestions(
  o: ResolvedWorldOptions,
  entities: readonly Entity[],
  index: HopIndex,
  factPassage: ReadonlyMap<string, string>,
): Map<number, QaExample[]> {
  const byHops = new Map<number, QaExample[]>()
  const maxHops = Math.max(...o.hops)
  const walk = (path: Hop[], chain: Entity[]) => {
    if (path.length > 0 && o.hops.includes(path.length)) {
      let np = chain[0].name
      for (let i = 0; i < path.length - 1; i++) np = path[i].np(np)
      const q: QaExample = {
        id: '',
        question: path[path.length - 1].ask(np),
        goldAnswers: [chain[chain.length - 1].name],
        dataSource: 'hiexp-world',
        taskType: 'multihop',
        hops: path.length,
        evidence: path.map((h, i) => factPassage.get(`${h.name}|${chain[i].id}`)!),
        chain: chain.map((c) => c.name),
        relations: path.map((h) => h.relation),
      }
      if (!byHops.has(path.length)) byHops.set(path.length, [])
      byHops.get(path.length)!.push(q)
    }
    if (path.length === maxHops) return
    const last = chain[chain.length - 1]
    for (const h of HOPS) {
      if (h.from !== last.kind) continue
      const to = index.next.get(h.name)!.get(last.id)
      if (to === undefined || chain.some((c) => c.id === to)) continue // no cycles: A's spouse's spouse is A
      walk([...path, h], [...chain, index.byId.get(to)!])
    }
  }
  for (const e of entities) walk([], [e])
  return byHops
}

/** Chooses the asked number of questions of each hop count (from `rng` only), names them, and cuts the splits. */
export function chooseQuestions(o: ResolvedWorldOptions, byHops: ReadonlyMap<number, QaExample[]>, rng: Random): Splits<QaExample> {
  const strata = [...byHops.keys()].sort().map((hops) => {
    const chosen = rng.shuffle(byHops.get(hops)!).slice(0, questionsFor(o, hops))
    chosen.forEach((q, i) => (q.id = `world-${o.seed}-${hops}h-${i}`))
    return chosen
  })
  return stratifiedSplits(strata, o.validationFraction, o.testFraction, rng)
}
