/**
 * Demonstrations for the supervised warm start: gold trajectories produced by running the real rollout loop with an
 * oracle policy that follows each question's gold chain. They therefore have exactly the layout RL rollouts have —
 * the same template, tags, retrieved `<information>` blocks (from the same retriever) and mask — so supervised
 * training on the mask-1 tokens teaches the format the RL loop parses.
 *
 * For a question with a gold chain (the generated world), hop i searches "<entity i> <relation words>" and the last
 * turn answers the last entity; questions without a chain (arithmetic, real data sets) are answered directly.
 */
import type { QaExample } from '../env/types.js'
import type { Retriever } from '../search/types.js'
import type { GenerateOptions, Generation, GenerationPolicy, TokenizerLike } from './policy.js'
import { promptText } from './chat.js'
import { parseRolloutOptions, runRollouts, type Rollout, type RolloutOptions } from './rollout.js'

/** Words of each relation's fact sentence in the world's passages: what a good query adds to the entity name. */
export const RELATION_QUERY_WORDS: Record<string, string> = {
  born_in: 'born',
  spouse_of: 'married',
  works_for: 'works for',
  founded_by: 'founded',
  headquartered_in: 'based',
  directed_by: 'directed',
  written_by: 'written',
  located_in: 'city in',
  capital_of: 'capital',
}

export interface DemonstrationOptions {
  /** Write a short <think> before each action (default false: the tiny default model learns faster without). */
  think?: boolean
  /**
   * Per example (same order): search only this many hops, then answer the entity reached so far (a flawed
   * demonstration: "answers after fewer searches than hops"); undefined follows the whole chain.
   */
  stopAfter?: readonly (number | undefined)[]
  /**
   * Experience text for each example's prompt slot (same order; undefined or '' leaves the slot empty), so that a
   * policy trained on the demonstrations has seen prompts that carry experiences.
   */
  experiences?: readonly (string | undefined)[]
  /**
   * Per example (same order): the search-time experience returned with the documents of each search call (HiExp's
   * second injection point, inside the <information> block, mask 0), so that demonstrations show that slot too. A
   * function is called with each query; a list gives the line of the k-th search ('' for none).
   */
  searchExperiences?: readonly (((query: string) => Promise<string> | string) | readonly string[] | undefined)[]
}

/**
 * The turns an oracle writes for a question; with `stopAfter` < hops, it stops searching early and answers the entity
 * reached so far (the question's own entity when 0).
 */
export function oracleTurns(q: QaExample, options: Pick<DemonstrationOptions, 'think'> & { stopAfter?: number } = {}): string[] {
  const turns: string[] = []
  const chain = q.chain
  const relations = q.relations
  let answer = q.goldAnswers[0]
  if (chain && relations && relations.length === chain.length - 1) {
    const stop = Math.min(options.stopAfter ?? relations.length, relations.length)
    if (stop < relations.length) answer = chain[stop]
    relations.slice(0, stop).forEach((rel, i) => {
      const query = `${chain[i]} ${RELATION_QUERY_WORDS[rel] ?? rel.replace(/_/g, ' ')}`
      const think = options.think ? `<think> I need ${rel.replace(/_/g, ' ')} of ${chain[i]} </think> ` : ''
      turns.push(`${think}<search> ${query} </search>`)
    })
  }
  const think = options.think ? '<think> I have the answer </think> ' : ''
  turns.push(`${think}<answer> ${answer} </answer>`)
  return turns
}

/**
 * A policy that writes scripted turns: the script of a sequence is found by its prompt (the sequences start with the
 * prompt token ids), the turn by how many searches it has made. Log-probabilities are 0 (nothing was sampled).
 */
export class OraclePolicy implements GenerationPolicy {
  private readonly scripts = new Map<string, string[]>()
  private readonly promptLengths = new Set<number>()

  constructor(readonly tokenizer: TokenizerLike) {}

  /** Registers the turns to write after this prompt. */
  add(prompt: string, turns: string[]): void {
    const ids = this.tokenizer.encode(prompt)
    this.scripts.set(ids.join(','), turns)
    this.promptLengths.add(ids.length)
  }

  async generate(sequences: number[][], opts: GenerateOptions): Promise<Generation[]> {
    return sequences.map((seq) => {
      let turns: string[] | undefined
      let promptLength = 0
      for (const n of this.promptLengths) {
        turns = this.scripts.get(seq.slice(0, n).join(','))
        if (turns) {
          promptLength = n
          break
        }
      }
      if (!turns) throw new Error('OraclePolicy: no script for this prompt')
      const done = this.tokenizer.decode(seq.slice(promptLength)).split('</search>').length - 1
      const text = turns[Math.min(done, turns.length - 1)]
      const tokens = this.tokenizer.encode(text).slice(0, opts.maxNewTokens)
      const finish = tokens.length < this.tokenizer.encode(text).length ? 'length' : 'stop'
      return { tokens, logprobs: tokens.map(() => 0), text: this.tokenizer.decode(tokens), finish }
    })
  }
}

/**
 * Gold trajectories of the examples, produced by the rollout loop (same options as RL rollouts; retrieval is real, so a
 * hop whose passage BM25 misses still shows the search that should have found it).
 */
export async function generateDemonstrations(
  examples: readonly QaExample[],
  retriever: Retriever,
  tokenizer: TokenizerLike,
  rolloutOptions: RolloutOptions = {},
  options: DemonstrationOptions = {},
): Promise<Rollout[]> {
  const o = parseRolloutOptions(rolloutOptions)
  const policy = new OraclePolicy(tokenizer)
  for (const key of ['experiences', 'stopAfter', 'searchExperiences'] as const) {
    const xs = options[key]
    if (xs && xs.length !== examples.length) throw new RangeError(`generateDemonstrations: options.${key} has ${xs.length} entries for ${examples.length} examples`)
  }
  const requests = examples.map((q, i) => {
    const experiences = options.experiences?.[i]
    const search = options.searchExperiences?.[i]
    let searchExperience: ((query: string) => Promise<string> | string) | undefined
    if (typeof search === 'function') searchExperience = search
    else if (search) {
      let calls = 0 // one request is one rollout: its k-th call is its k-th search
      searchExperience = () => search[calls++] ?? ''
    }
    return { question: q.question, ...(experiences ? { experiences } : {}), ...(searchExperience ? { searchExperience } : {}) }
  })
  examples.forEach((q, i) => policy.add(promptText(o.template, requests[i], o.chat, tokenizer), oracleTurns(q, { think: options.think, stopAfter: options.stopAfter?.[i] })))
  const { rollouts } = await runRollouts(policy, retriever, requests, rolloutOptions)
  return rollouts
}
