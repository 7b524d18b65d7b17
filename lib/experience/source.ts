// HiExp inside the RL loop: build the HEK from the policy's own contrasted rollouts, and render a question's
// experiences for the prompt slot.
import { runRollouts, type ResolvedRolloutOptions } from '../agent/rollout.js'
import { computeReward, type ResolvedRewardConfig } from '../agent/reward.js'
import type { QaExample } from '../env/types.js'
import { ContrastiveAnalyzer } from './analyzer.js'
import { policyTextGenerator } from './generator.js'
import { HierarchicalExperience, type HekOptions } from './hek.js'
import type { OpenAIChatOptions } from './generator.js'
import { llmDistiller, PromptDistiller, selfDistiller } from './llm.js'
import { recordFromRollout, TrajectoryStore } from './store.js'
import { groupTrajectories, type Distiller, type TrajectoryRecord } from './types.js'
import type { Policy } from '../model/policy.js'
import type { Retriever } from '../search/types.js'

/**
 * Where HiExp plugs into the rollout loop, at the paper's two points (docs/method.md §2): `render` gives the text of a
 * question's prompt slot, `forSearch` the experience returned with the documents of one search call ('' for none).
 * The same source serves training and evaluation, so the injection rules are the same.
 */
export interface ExperienceSource {
  render(question: QaExample): Promise<string> | string
  forSearch?(query: string, question: QaExample): Promise<string> | string
}

export interface HekSourceOptions {
  /** E2/E3 in the system prompt (default 5). */
  promptTopK?: number
  /** Tokens of prompt experience at most. */
  budget?: number
  /** Least cosine similarity of the question and an E2/E3 title for it to enter the prompt (default 0.3). */
  promptMinSimilarity?: number
  /** Least cosine similarity of a search query and an E1 title for the E1 to be returned (default 0.8). */
  searchMinSimilarity?: number
  /** Off: no experience at search calls (the prompt only). */
  searchInjection?: boolean
  countTokens?: (text: string) => number
}

/** Retrieves from a HEK (swappable: a dynamic HEK replaces `hek` with its rebuilt successor). */
export class HekExperienceSource implements ExperienceSource {
  constructor(
    public hek: HierarchicalExperience,
    private readonly options: HekSourceOptions = {},
  ) {}

  async render(q: QaExample): Promise<string> {
    const o = this.options
    const r = await this.hek.retrieveForPrompt(q.question, {
      ...(o.promptTopK !== undefined && { k: o.promptTopK }),
      ...(o.budget !== undefined && { budget: o.budget }),
      ...(o.promptMinSimilarity !== undefined && { minSimilarity: o.promptMinSimilarity }),
      ...(o.countTokens && { countTokens: o.countTokens }),
    })
    return r.text
  }

  async forSearch(query: string, q?: QaExample): Promise<string> {
    if (this.options.searchInjection === false) return ''
    const r = await this.hek.retrieveForSearch(query, {
      ...(this.options.searchMinSimilarity !== undefined && { minSimilarity: this.options.searchMinSimilarity }),
      ...(q !== undefined && { question: q.question }),
    })
    return r.text
  }
}

/** The rollout request of a question with a source's experiences at both points (none without a source). */
export async function guidedRequest(question: QaExample, source: ExperienceSource | undefined): Promise<{ question: string; experiences?: string; searchExperience?: (query: string) => Promise<string> | string }> {
  if (!source) return { question: question.question }
  const experiences = await source.render(question)
  return {
    question: question.question,
    experiences,
    ...(source.forSearch && { searchExperience: (query: string) => source.forSearch!(query, question) }),
  }
}

/** The part of a run's configuration that picks the distiller (train/config.ts's resolved config has this shape). */
export interface DistillerChoice {
  outDir: string
  experience: { distiller: 'offline' | 'llm' | 'self'; llm?: OpenAIChatOptions }
}

export function distillerFor(config: DistillerChoice, policy: Policy): Distiller {
  const e = config.experience
  if (e.distiller === 'llm') return llmDistiller(e.llm!, { cacheDir: `${config.outDir}/llm-cache` })
  if (e.distiller === 'self') return selfDistiller(policyTextGenerator(policy, { maxNewTokens: 96, temperature: 0 }))
  return new ContrastiveAnalyzer()
}

/** Rolls the policy out G times on each question, keeps every trajectory in `store`, and returns the records. */
export async function collectTrajectories(
  policy: Policy,
  retriever: Retriever,
  questions: readonly QaExample[],
  G: number,
  rollout: ResolvedRolloutOptions,
  reward: ResolvedRewardConfig,
  store: TrajectoryStore,
  step: number,
): Promise<TrajectoryRecord[]> {
  const requests = questions.flatMap((q) => Array.from({ length: G }, () => ({ question: q.question })))
  const { rollouts } = await runRollouts(policy, retriever, requests, { ...rollout, seed: 7_919 + step })
  const records = rollouts.map((r, i) => {
    const example = questions[Math.floor(i / G)]
    return recordFromRollout(r, { example, reward: { ...computeReward(r, example.goldAnswers, reward) }, step })
  })
  store.append(records)
  return records
}

/** The distiller found nothing to say about the trajectories: a finding about the policy, not a failure of the run. */
export class NoExperienceError extends Error {
  override name = 'NoExperienceError'
}

/** Distils records into experiences and clusters them into a HEK. */
export async function buildHek(records: readonly TrajectoryRecord[], distiller: Distiller, options: HekOptions = {}): Promise<HierarchicalExperience> {
  const experiences = await distiller.distill(groupTrajectories(records))
  if (experiences.length === 0) {
    const why =
      distiller instanceof PromptDistiller && distiller.stats.skipped > 0
        ? `none of its ${distiller.stats.skipped} distinct prompts got a valid reply` +
          (distiller.lastInvalid ? `; last reply ${JSON.stringify(distiller.lastInvalid.reply)}: ${distiller.lastInvalid.error}` : '')
        : 'no question had both a success and a failure, or no behaviour separated them; sample more questions or rollouts'
    throw new NoExperienceError(`HiExp: the ${distiller.name} distiller found no experience in ${records.length} trajectories (${why})`)
  }
  return HierarchicalExperience.build(experiences, options)
}
