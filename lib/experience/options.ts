// The `experience` block of a run's configuration (HiExp), with the paper's form as the default (docs/method.md §1-§4):
// every rollout sampled with the HEK at both injection points, trained under the context it was sampled in, evaluated
// with the same HEK. hiexp's own variants (docs/method.md §6) are options, each off by default.
import { z } from 'zod'
import { DEFAULT_THRESHOLDS } from './hek.js'
import { PROMPT_MIN_SIMILARITY, PROMPT_TOP_K, SEARCH_MIN_SIMILARITY } from './retrieve.js'

/** Who distils experiences from contrasted rollouts (experience.distiller). */
export const DISTILLERS = ['offline', 'self', 'llm'] as const

/** How guided rollouts are trained: the paper's form, or hiexp's internalisation variant. */
export const EXPERIENCE_VARIANTS = ['paper', 'internalize'] as const

/** The internalisation variant's default KL coefficient towards the experience-conditioned distribution. */
export const INTERNALIZE_KL = 0.01

export const ExperienceOptionsSchema = z
  .object({
    /** HiExp on (off: plain GRPO / GSPO). */
    enabled: z.boolean().default(false),
    /** Share of each group's rollouts sampled with the HEK (ρ; 1 = every rollout, the paper). */
    guidedFraction: z.number().min(0).max(1).default(1),
    /**
     * 'paper' (default): guided rollouts are trained with the prompt and tool responses they were sampled with (the
     * ratio π_θ(y|x,E;R)/π_old(y|x,E;R)). 'internalize' (hiexp's own): they are scored behind the experience-free prompt,
     * with a KL of regularizerCoef towards the experience-conditioned sampling distribution.
     */
    variant: z.enum(EXPERIENCE_VARIANTS).default('paper'),
    /** Internalisation's alignment, set alone (true = score guided rollouts behind the experience-free prompt). */
    alignToExperienceFree: z.boolean().optional(),
    /** Internalisation's KL coefficient towards the experience-conditioned distribution (default 0.01 with 'internalize', else 0). */
    regularizerCoef: z.number().min(0).optional(),
    /** HEK file to use; without it one is built from the warm-start policy's rollouts. */
    hekFile: z.string().optional(),
    /** E2/E3 experiences in the system prompt (the paper: 5). */
    promptTopK: z.number().int().min(0).default(PROMPT_TOP_K),
    /**
     * Least cosine similarity of the question and an E2/E3 title for it to enter the prompt (hiexp's floor, the paper
     * states none; -1: always the top promptTopK). Below it the slot holds fewer lines, or none.
     */
    promptMinSimilarity: z.number().min(-1).max(1).default(PROMPT_MIN_SIMILARITY),
    /** Tokens of prompt experience at most (the embedded policy's whole context is 640 tokens). */
    tokenBudget: z.number().int().min(1).default(96),
    /** Return the best E1 with the documents of a search call (the paper's second injection point). */
    searchInjection: z.boolean().default(true),
    /** Least cosine similarity of a search query and an E1 title for the E1 to be returned (the paper: 0.8). */
    searchMinSimilarity: z.number().min(-1).max(1).default(SEARCH_MIN_SIMILARITY),
    /** Ward cut heights τ1 (E1 → E2) and τ2 (E2 → E3) of the HEK built by the run. */
    thresholds: z.array(z.number().min(0)).length(2).default([...DEFAULT_THRESHOLDS]),
    /** Rebuild the HEK from fresh rollouts every this many steps (0: static HEK, as in the paper). */
    refreshEvery: z.number().int().min(0).default(0),
    /** Evaluate with the HEK too (the method's number; the HEK-free number is always reported). */
    evaluateWithExperience: z.boolean().default(true),
    /** Who distils experiences from contrasted rollouts: the offline analyzer, the policy itself, or an LLM endpoint. */
    distiller: z.enum(DISTILLERS).default('offline'),
    /** OpenAI-compatible endpoint of the 'llm' distiller. */
    llm: z.object({ baseURL: z.string().url(), model: z.string(), apiKey: z.string().optional() }).strict().optional(),
    /** Questions (and rollouts of each) sampled to build the first HEK from the warm-started policy. */
    buildQuestions: z.number().int().min(1).default(96),
    buildGroupSize: z.number().int().min(2).default(5),
  })
  .strict()

export type ExperienceOptions = z.input<typeof ExperienceOptionsSchema>
export type ResolvedExperienceOptions = z.output<typeof ExperienceOptionsSchema>

/** What the trainer does with guided rollouts: align them to the experience-free prompt, and the KL towards their sampling distribution. */
export function internalization(e: Pick<ResolvedExperienceOptions, 'variant' | 'alignToExperienceFree' | 'regularizerCoef'>): { align: boolean; klCoef: number } {
  const on = e.variant === 'internalize'
  return { align: e.alignToExperienceFree ?? on, klCoef: e.regularizerCoef ?? (on ? INTERNALIZE_KL : 0) }
}
