/**
 * The records of HiExp's experience half (docs/method.md §1–2): a stored trajectory, a group of trajectories of one
 * question, and an experience. Schemas are zod, checked where data comes in from disk or from an LLM.
 */
import { z } from 'zod'
import { sanitizeExperienceField, sanitizeExperienceText } from './sanitize.js'

export const TurnRecordSchema = z.object({
  text: z.string(),
  action: z.enum(['search', 'answer', 'invalid', 'truncated']),
  query: z.string().optional(),
  passageIds: z.array(z.string()).optional(),
  /** The inserted <information> block as the policy saw it. */
  information: z.string().optional(),
  wellFormed: z.boolean().optional(),
})
export type TurnRecord = z.infer<typeof TurnRecordSchema>

/** One rollout as the trajectory store keeps it (one JSONL line). */
export const TrajectoryRecordSchema = z.object({
  /** Unique within a store: `${questionId}#${step}#${index}` unless given. */
  id: z.string(),
  questionId: z.string(),
  question: z.string(),
  taskType: z.string().default('qa'),
  hops: z.number().int().min(0).optional(),
  goldAnswers: z.array(z.string()).optional(),
  /** Names along the gold chain, from the question's entity to the answer (generated worlds only). */
  chain: z.array(z.string()).optional(),
  /** The rendered prompt, experiences included when the rollout was guided. */
  prompt: z.string(),
  /** True when the prompt carried retrieved experiences (HiExp's guided share of a group). */
  guided: z.boolean().default(false),
  turns: z.array(TurnRecordSchema),
  queries: z.array(z.string()),
  answer: z.string().nullable(),
  finish: z.enum(['answer', 'malformed', 'max-turns', 'max-tokens']),
  formatError: z.string().optional(),
  /** Reward parts; `total` is what success is judged by. */
  reward: z.record(z.number()).refine((r) => typeof r.total === 'number', { message: 'must have a numeric total' }),
  searchCalls: z.number().int().min(0),
  responseTokens: z.number().int().min(0),
  totalTokens: z.number().int().min(0),
  /** Policy (training) step that produced the rollout. */
  step: z.number().int().min(0).default(0),
  time: z.string().optional(),
})
export type TrajectoryRecord = z.infer<typeof TrajectoryRecordSchema>
export type TrajectoryRecordInput = z.input<typeof TrajectoryRecordSchema>

/**
 * The rollouts of one question (a GRPO group, or everything stored for it): what a distiller sees — the question, its
 * hop count and gold answers, the trajectories and their rewards; never the evidence chain (docs/method.md §1).
 */
export interface TrajectoryGroup {
  questionId: string
  question: string
  taskType: string
  hops?: number
  goldAnswers?: string[]
  trajectories: TrajectoryRecord[]
}

export const ExperienceKindSchema = z.enum(['success-pattern', 'failure-pattern', 'principle'])
export type ExperienceKind = z.infer<typeof ExperienceKindSchema>

/**
 * The paper's three levels (docs/method.md §1): E1 cases (what a contrasted question taught), E2 patterns (a cluster of
 * cases, summarised), E3 strategies (a cluster of patterns). 'case' | 'pattern' | 'strategy' are read as E1 | E2 | E3.
 */
export const EXPERIENCE_TYPES = ['E1', 'E2', 'E3'] as const
export type ExperienceType = (typeof EXPERIENCE_TYPES)[number]
const TYPE_ALIASES: Record<string, ExperienceType> = { case: 'E1', pattern: 'E2', strategy: 'E3' }
export const ExperienceTypeSchema = z.preprocess((v) => (typeof v === 'string' && v in TYPE_ALIASES ? TYPE_ALIASES[v] : v), z.enum(EXPERIENCE_TYPES))

/**
 * An experience (docs/method.md §1): the paper's record `{ type, title, tags, description, thinking, sources }` plus hiexp's
 * statistics. `text` is the paper's `description` (what is injected into the context); the name is kept because the
 * distillers, the printer and the sanitiser read it. `title` is the matching key (the "child chunk"): retrieval compares
 * a question or a search query with the title's embedding; empty means "the text is its own title". Records in the
 * paper's shape (`description` instead of `text`) are accepted by `ExperienceRecordSchema`.
 */
export const ExperienceSchema = z.object({
  id: z.string().min(1),
  /** E1 case (distillers write these), E2 pattern or E3 strategy (the HEK's summaries). */
  type: ExperienceTypeSchema.default('E1'),
  /** Short matching key ('' = use the text). */
  title: z.string().transform(sanitizeExperienceField).default(''),
  /**
   * The question a case was learnt on, its names as role slots (roles.ts questionKey): a case is matched on it as well
   * as on its title (matchKey). Absent for experiences that hold for any question.
   */
  question: z.string().transform(sanitizeExperienceText).optional(),
  tags: z.array(z.string().transform(sanitizeExperienceField)).default([]),
  /** The description: plain-language advice, as it goes into the context (cleaned and bounded on entry: sanitize.ts). */
  text: z.string().transform(sanitizeExperienceText).pipe(z.string().min(1)),
  /** The reflection behind it (why the successful attempt succeeded), not injected. */
  thinking: z.string().transform(sanitizeExperienceText).default(''),
  kind: ExperienceKindSchema,
  /** The condition under which it applies ("multi-hop questions with 3 hops", "any question"). */
  when: z.string().transform(sanitizeExperienceField),
  /** Task family it was learnt on ('multihop', 'arithmetic', …) or 'any'. */
  taskType: z.string().transform(sanitizeExperienceField),
  /** The hop count it is restricted to, when `when` names one (machine-readable twin of `when`). */
  hops: z.number().int().min(0).optional(),
  /** Trajectories that show it. */
  support: z.number().min(0),
  /** Share of those trajectories that succeeded. */
  successRate: z.number().min(0).max(1),
  /** Question ids and trajectory ids it was distilled from (possibly truncated). */
  sources: z.array(z.string()),
  /** How strongly it separates success from failure (the analyzer's log-odds ratio), when known. */
  score: z.number().optional(),
  /** Which distiller wrote it. */
  origin: z.string().optional(),
})
/** An experience after the schema: every field filled in. */
export type CheckedExperience = z.infer<typeof ExperienceSchema>
/** An experience as distillers write it: the paper's fields may be left out (the schema fills them in). */
export type Experience = Omit<CheckedExperience, 'type' | 'title' | 'tags' | 'thinking'> & Partial<Pick<CheckedExperience, 'type' | 'title' | 'tags' | 'thinking'>>

/** The paper's field names: `description` is read as `text`, and the statistics hiexp keeps get neutral defaults. */
export const ExperienceRecordSchema = z.preprocess((v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v
  const r = { ...(v as Record<string, unknown>) }
  if (r.text === undefined && typeof r.description === 'string') r.text = r.description
  delete r.description
  r.kind ??= 'success-pattern'
  r.when ??= 'any question'
  r.taskType ??= 'any'
  r.support ??= 1
  r.successRate ??= 1
  r.sources ??= []
  return r
}, ExperienceSchema)

/** The record in the paper's shape (for export and for readers of the paper). */
export function paperRecord(e: Experience): { type: ExperienceType; title: string; tags: string[]; description: string; thinking: string; sources: string[] } {
  return { type: e.type ?? 'E1', title: titleOf(e), tags: e.tags ?? [], description: e.text, thinking: e.thinking ?? '', sources: e.sources }
}

/** The matching key of an experience: its title, or its text when it has none. */
export const titleOf = (e: Pick<Experience, 'text' | 'title'>): string => (e.title && e.title.trim() !== '' ? e.title : e.text)

/** What an experience's vector embeds: its question (when it is a case of one) and its title. */
export const matchKey = (e: Pick<Experience, 'text' | 'title' | 'question'>): string => (e.question ? `${e.question} ${titleOf(e)}` : titleOf(e))

/** Every distiller: trajectories in, experiences out. */
export interface Distiller {
  readonly name: string
  distill(groups: readonly TrajectoryGroup[]): Promise<Experience[]>
}

/**
 * Groups records by question id (first-seen order), keeping each group's question facts and leaving out what distillers
 * may not see (the evidence chain). `by: 'question-step'` keeps
 * the rollouts of one question at different policy steps apart (one GRPO group each).
 */
export function groupTrajectories(records: readonly TrajectoryRecord[], options: { by?: 'question' | 'question-step' } = {}): TrajectoryGroup[] {
  const groups = new Map<string, TrajectoryGroup>()
  for (const r of records) {
    const key = options.by === 'question-step' ? `${r.questionId}\u0000${r.step}` : r.questionId
    let g = groups.get(key)
    if (!g) {
      g = { questionId: r.questionId, question: r.question, taskType: r.taskType, trajectories: [] }
      if (r.hops !== undefined) g.hops = r.hops
      if (r.goldAnswers) g.goldAnswers = r.goldAnswers
      groups.set(key, g)
    }
    // The store keeps a generated question's chain (for analysis); a distiller must not see it.
    const { chain, ...seen } = r
    g.trajectories.push(chain === undefined ? r : seen)
  }
  return [...groups.values()]
}

/** zod's first issue as "path: message" (for errors that name the problem). */
export function firstIssue(error: z.ZodError): string {
  const i = error.issues[0]
  return `${i.path.join('.') || '(root)'}: ${i.message}`
}
