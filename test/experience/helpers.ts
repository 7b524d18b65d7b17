/** Scripted trajectories for the experience tests: records built directly, and a generator with a planted pattern. */
import { rng } from '../../lib/experience/text.js'
import type { TrajectoryGroup, TrajectoryRecord } from '../../lib/experience/types.js'

export interface Step {
  query?: string
  info?: string
  answer?: string
}

let counter = 0

export function traj(
  questionId: string,
  question: string,
  steps: Step[],
  o: { reward: number; hops?: number; taskType?: string; finish?: TrajectoryRecord['finish']; gold?: string[]; id?: string; chain?: string[] } = { reward: 0 },
): TrajectoryRecord {
  const turns: TrajectoryRecord['turns'] = []
  const queries: string[] = []
  let answer: string | null = null
  for (const s of steps) {
    if (s.query !== undefined) {
      queries.push(s.query)
      turns.push({
        text: `<search> ${s.query} </search>`,
        action: 'search',
        query: s.query,
        passageIds: s.info === undefined ? [] : ['p'],
        information: s.info === undefined ? undefined : `\n\n<information>Doc 1(Title: x) ${s.info}\n</information>\n\n`,
        wellFormed: true,
      })
    } else if (s.answer !== undefined) {
      answer = s.answer
      turns.push({ text: `<answer> ${s.answer} </answer>`, action: 'answer', wellFormed: true })
    }
  }
  const finish = o.finish ?? (answer !== null ? 'answer' : 'max-turns')
  const r: TrajectoryRecord = {
    id: o.id ?? `${questionId}#0#${counter++}`,
    questionId,
    question,
    taskType: o.taskType ?? 'multihop',
    prompt: `Question: ${question}\n`,
    guided: false,
    turns: turns.map((t) => (t.information === undefined ? (({ information, ...rest }) => rest)(t) : t)),
    queries,
    answer,
    finish,
    reward: { total: o.reward },
    searchCalls: queries.length,
    responseTokens: 10 * turns.length,
    totalTokens: 20 + 30 * turns.length,
    step: 0,
  }
  if (o.hops !== undefined) r.hops = o.hops
  if (o.gold) r.goldAnswers = o.gold
  if (o.chain) r.chain = o.chain
  return r
}

export function group(trajectories: TrajectoryRecord[]): TrajectoryGroup {
  const t = trajectories[0]
  const g: TrajectoryGroup = { questionId: t.questionId, question: t.question, taskType: t.taskType, trajectories }
  if (t.hops !== undefined) g.hops = t.hops
  if (t.goldAnswers) g.goldAnswers = t.goldAnswers
  return g
}

/**
 * 2-hop questions "Where was the founder of Company<i> born?" with G rollouts each, drawn from three strategies:
 *   A  search the entity ("Company<i> founded"), then the founder found in the results → succeeds with pA
 *   B  a generic query without the entity ("founder born city") → succeeds with pB
 *   C  answer at once, no search → succeeds with pC
 * and, independent of strategy and outcome, half of the rollouts repeat their first query once (a null feature).
 */
export function plantedGroups(n = 24, G = 8, seed = 7, p = { A: 0.85, B: 0.1, C: 0.05 }): TrajectoryGroup[] {
  const rand = rng(seed)
  const out: TrajectoryGroup[] = []
  for (let i = 0; i < n; i++) {
    const qid = `q${i}`
    const question = `Where was the founder of Company${i} born?`
    const gold = `City${i}`
    const ts: TrajectoryRecord[] = []
    for (let g = 0; g < G; g++) {
      const u = rand()
      const strategy = u < 0.45 ? 'A' : u < 0.8 ? 'B' : 'C'
      const ok = rand() < p[strategy as 'A' | 'B' | 'C']
      const repeat = rand() < 0.5
      const answer = ok ? gold : `City${(i + 1 + Math.floor(rand() * 5)) % n}`
      const steps: Step[] = []
      if (strategy === 'A') {
        steps.push({ query: `Company${i} founded`, info: `Company${i} was founded by Person${i} Smith.` })
        if (repeat) steps.push({ query: `Company${i} founded`, info: `Company${i} was founded by Person${i} Smith.` })
        steps.push({ query: `Person${i} Smith born`, info: `Person${i} Smith was born in ${gold}.` })
      } else if (strategy === 'B') {
        steps.push({ query: 'founder born city', info: 'The weather in the old harbour town is mild.' })
        if (repeat) steps.push({ query: 'founder born city', info: 'The weather in the old harbour town is mild.' })
      }
      steps.push({ answer })
      ts.push(traj(qid, question, steps, { reward: ok ? 1 : 0, hops: 2, gold: [gold], id: `${qid}#${g}`, chain: [`Company${i}`, `Person${i} Smith`, gold] }))
    }
    out.push(group(ts))
  }
  return out
}

import type { Experience } from '../../lib/experience/types.js'

/** Hand-written experiences in four themes, several wordings each (what distillers return over a run). */
export function sampleExperiences(): Experience[] {
  const themes: Array<[Experience['kind'], string, string[]]> = [
    ['success-pattern', 'multihop', [
      'Name the entity from the question in the first search.',
      'Put the entity named in the question into the first search query.',
      'Start by searching the entity that the question names.',
      'Search the named entity of the question first, with the relation word.',
      'The first search query should contain the entity from the question.',
    ]],
    ['success-pattern', 'multihop', [
      'Build the next search on the name found in the previous results.',
      'Use the bridge entity found in the results as the next search query.',
      'After a hop, search the new name that the results gave you.',
      'Follow the chain: the name found in the results becomes the next search.',
    ]],
    ['failure-pattern', 'multihop', [
      'Do not answer before any search.',
      'Do not give an answer without searching first.',
      'Answering at once without any search usually fails.',
      'Never answer before reading search results.',
    ]],
    ['failure-pattern', 'arithmetic', [
      'Do not break the tag format of answer and search tags.',
      'Close every tag: a broken answer tag format loses the reward.',
      'Malformed tags end the attempt; keep the tag format exact.',
    ]],
  ]
  const out: Experience[] = []
  themes.forEach(([kind, taskType, texts], k) =>
    texts.forEach((text, i) =>
      out.push({ id: `e${k}.${i}`, text, kind, when: k === 3 ? 'arithmetic questions' : 'multi-hop questions', taskType, support: 2 + i + k, successRate: kind === 'success-pattern' ? 0.8 : 0.1, sources: [`t${k}.${i}`] }),
    ),
  )
  return out
}
