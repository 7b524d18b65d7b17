/**
 * Prompt-based contrastive distillation: for each contrastive pair (or pattern-candidate set) a prompt from a
 * template file asks a text generator what made the difference; the reply must be JSON that zod accepts. Used with
 * an OpenAI-compatible endpoint it is the LLM (teacher) distiller; with the policy's generator it is
 * self-distillation. Replies are cached on disk by the content hash of (generator id, prompt, sampling options), so a
 * rerun pays nothing twice. A reply that is not valid JSON of the schema is asked again (up to `invalidRetries`),
 * then skipped and counted (or thrown, with `onInvalid: 'throw'`).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { writeFileAtomic } from '../util/atomic.js'
import { contrastivePairs, parsePairingOptions, type PairingOptions } from './pairing.js'
import { OpenAIChatGenerator, type OpenAIChatOptions, type TextGenerator } from './generator.js'
import { firstIssue, type Distiller, type Experience, type TrajectoryGroup, type TrajectoryRecord } from './types.js'

/** Finds a template shipped in the package's prompts/ folder (from lib/ under tsx or dist/lib/ once compiled). */
export function promptTemplatePath(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url))
  for (const up of ['../..', '../../..']) {
    const p = join(here, up, 'prompts', name)
    if (existsSync(p)) return p
  }
  throw new Error(`hiexp: prompt template ${name} not found in the package's prompts/ folder`)
}

export function loadTemplate(nameOrPath: string): string {
  const path = existsSync(nameOrPath) ? nameOrPath : promptTemplatePath(nameOrPath)
  return readFileSync(path, 'utf8')
}

/** Fills {slot}s; unknown slots are left as written. */
export function fillTemplate(template: string, slots: Record<string, string | number>): string {
  return template.replace(/\{([a-z_]+)\}/g, (m, k: string) => (k in slots ? String(slots[k]) : m))
}

/** A compact, readable rendering of one trajectory for a prompt (information cut to `infoChars` per search). */
export function renderTrajectory(t: TrajectoryRecord, infoChars = 300): string {
  const lines: string[] = []
  t.turns.forEach((turn, i) => {
    if (turn.action === 'search') {
      lines.push(`${i + 1}. search: ${turn.query ?? ''}`)
      if (turn.information !== undefined) {
        const info = turn.information.replace(/<\/?information>/g, '').replace(/\s+/g, ' ').trim()
        lines.push(`   results: ${info.length > infoChars ? `${info.slice(0, infoChars)}…` : info}`)
      }
    } else if (turn.action === 'answer') lines.push(`${i + 1}. answer: ${t.answer ?? ''}`)
    else lines.push(`${i + 1}. ${turn.action} output: ${turn.text.replace(/\s+/g, ' ').slice(0, 200)}`)
  })
  lines.push(`ended: ${t.finish}${t.formatError ? ` (${t.formatError})` : ''}; reward ${t.reward.total}`)
  return lines.join('\n')
}

const ReplyExperienceSchema = z.object({
  text: z.string().trim().min(3),
  kind: z.enum(['success-pattern', 'failure-pattern', 'principle']),
  when: z.string().trim().default('any question'),
  taskType: z.string().optional(),
})
// A bare array of experiences is accepted as well as {"experiences": [...]} (one schema, so errors name the field).
export const DistillReplySchema = z.preprocess(
  (v) => (Array.isArray(v) ? { experiences: v } : v),
  z.object({ experiences: z.array(ReplyExperienceSchema).min(1) }),
)

/** The JSON inside a reply: the whole text, else a ```json fence, else the outermost {...} or [...]. */
export function extractJson(reply: string): unknown {
  const attempts = [reply.trim()]
  const fence = /```(?:json)?\s*([\s\S]*?)```/.exec(reply)
  if (fence) attempts.push(fence[1].trim())
  for (const [open, close] of [['{', '}'], ['[', ']']]) {
    const a = reply.indexOf(open)
    const b = reply.lastIndexOf(close)
    if (a >= 0 && b > a) attempts.push(reply.slice(a, b + 1))
  }
  let lastError = 'empty reply'
  for (const s of attempts) {
    if (s === '') continue
    try {
      return JSON.parse(s)
    } catch (e) {
      lastError = (e as Error).message
    }
  }
  throw new SyntaxError(`not JSON: ${lastError}`)
}

/** Parses and validates a reply with `schema`; throws a message naming what is wrong. */
export function parseReply<T extends z.ZodTypeAny>(reply: string, schema: T): z.output<T> {
  const value = extractJson(reply)
  const p = schema.safeParse(value)
  if (!p.success) throw new TypeError(`reply does not match the schema: ${firstIssue(p.error)}`)
  return p.data
}

export const PromptDistillerOptionsSchema = z
  .object({
    /** Template file (a path, or a name in prompts/) for contrastive pairs, and one for same-outcome candidates. */
    pairTemplate: z.string().default('distill-pair.txt'),
    candidateTemplate: z.string().default('distill-candidates.txt'),
    maxTokens: z.number().int().min(1).default(512),
    temperature: z.number().min(0).default(0),
    /** Extra asks after an invalid reply. */
    invalidRetries: z.number().int().min(0).default(2),
    onInvalid: z.enum(['skip', 'throw']).default('skip'),
    /** Directory of the reply cache (none: no cache). */
    cacheDir: z.string().optional(),
    /** Characters of each search's results shown in a prompt. */
    infoChars: z.number().int().min(0).default(300),
    name: z.string().optional(),
  })
  .strict()
export type PromptDistillerOptions = z.input<typeof PromptDistillerOptionsSchema> & { pairing?: PairingOptions }

export interface DistillStats {
  prompts: number
  /** Prompts answered from the cache. */
  cacheHits: number
  /** Generator calls made (each a batch of prompts). */
  generatorCalls: number
  /** Prompts whose replies were sent to the generator (asks, re-asks included). */
  asked: number
  /** Replies that failed validation (each re-ask counted). */
  invalidReplies: number
  /** Prompts given up after every re-ask. */
  skipped: number
}

interface Job {
  key: string
  prompt: string
  group: TrajectoryGroup
  sources: string[]
  successRate: number
  pair: boolean
}

export class PromptDistiller implements Distiller {
  readonly name: string
  private readonly o: z.output<typeof PromptDistillerOptionsSchema>
  private readonly pairing: PairingOptions
  private readonly pairTemplate: string
  private readonly candidateTemplate: string
  stats: DistillStats = { prompts: 0, cacheHits: 0, generatorCalls: 0, asked: 0, invalidReplies: 0, skipped: 0 }
  /** The last reply that failed validation (its start) and why: what a distiller that yields nothing wrote. */
  lastInvalid?: { reply: string; error: string }

  constructor(readonly generator: TextGenerator, options: PromptDistillerOptions = {}) {
    const { pairing, ...rest } = options
    const p = PromptDistillerOptionsSchema.safeParse(rest)
    if (!p.success) throw new RangeError(`distiller options: ${firstIssue(p.error)}`)
    this.o = p.data
    this.pairing = pairing ?? {}
    parsePairingOptions(this.pairing)
    this.name = this.o.name ?? `prompt:${generator.id}`
    this.pairTemplate = loadTemplate(this.o.pairTemplate)
    this.candidateTemplate = loadTemplate(this.o.candidateTemplate)
  }

  /** The prompts `distill` would send (for inspection and tests). */
  prompts(groups: readonly TrajectoryGroup[]): string[] {
    return this.jobs(groups).map((j) => j.prompt)
  }

  private jobs(groups: readonly TrajectoryGroup[]): Job[] {
    const jobs: Job[] = []
    for (const c of contrastivePairs(groups, this.pairing)) {
      const g = c.group
      const base = { question: g.question, task_type: g.taskType, hops: g.hops ?? '?' }
      for (const pair of c.pairs) {
        const prompt = fillTemplate(this.pairTemplate, {
          ...base,
          success: renderTrajectory(pair.success, this.o.infoChars),
          failure: renderTrajectory(pair.failure, this.o.infoChars),
        })
        jobs.push({ key: this.key(prompt), prompt, group: g, sources: [pair.success.id, pair.failure.id], successRate: 0.5, pair: true })
      }
      if (c.candidates) {
        const ok = c.candidates.outcome === 'success'
        const prompt = fillTemplate(this.candidateTemplate, {
          ...base,
          outcome_verb: ok ? 'succeeded' : 'failed',
          kind: ok ? 'success-pattern' : 'failure-pattern',
          trajectories: c.candidates.trajectories.map((t, i) => `Attempt ${i + 1}:\n${renderTrajectory(t, this.o.infoChars)}`).join('\n\n'),
        })
        jobs.push({ key: this.key(prompt), prompt, group: g, sources: c.candidates.trajectories.map((t) => t.id), successRate: ok ? 1 : 0, pair: false })
      }
    }
    return jobs
  }

  private key(prompt: string): string {
    return createHash('sha256')
      .update(JSON.stringify({ v: 1, g: this.generator.id, p: prompt, t: this.o.temperature, m: this.o.maxTokens }))
      .digest('hex')
  }

  private cachePath(key: string): string | undefined {
    return this.o.cacheDir ? join(this.o.cacheDir, key.slice(0, 2), `${key}.json`) : undefined
  }

  async distill(groups: readonly TrajectoryGroup[]): Promise<Experience[]> {
    const jobs = this.jobs(groups)
    this.stats.prompts += jobs.length
    const replies = new Map<string, z.output<typeof DistillReplySchema>>()
    // Cache first; identical prompts are asked once.
    let pending: Job[] = []
    const seen = new Set<string>()
    for (const j of jobs) {
      if (seen.has(j.key)) continue
      seen.add(j.key)
      const path = this.cachePath(j.key)
      if (path && existsSync(path)) {
        // A damaged cache entry is asked again (and overwritten), never trusted.
        let raw: unknown
        try {
          raw = JSON.parse(readFileSync(path, 'utf8'))
        } catch {
          raw = undefined
        }
        const cached = DistillReplySchema.safeParse(raw)
        if (cached.success) {
          replies.set(j.key, cached.data)
          this.stats.cacheHits++
          continue
        }
      }
      pending.push(j)
    }
    const errors = new Map<string, string>()
    for (let attempt = 0; attempt <= this.o.invalidRetries && pending.length > 0; attempt++) {
      this.stats.generatorCalls++
      this.stats.asked += pending.length
      // Each reply is checked and cached as it arrives, so a failure later in the batch loses nothing already paid for.
      const handled = new Set<number>()
      const again: Job[] = []
      const handle = (i: number, text: string) => {
        if (handled.has(i) || i < 0 || i >= pending.length) return
        handled.add(i)
        const j = pending[i]
        try {
          const r = parseReply(text ?? '', DistillReplySchema)
          replies.set(j.key, r)
          const path = this.cachePath(j.key)
          if (path) writeFileAtomic(path, JSON.stringify(r))
        } catch (e) {
          this.stats.invalidReplies++
          errors.set(j.key, (e as Error).message)
          this.lastInvalid = { reply: (text ?? '').slice(0, 160), error: (e as Error).message }
          again.push(j)
        }
      }
      const texts = await this.generator.complete(
        pending.map((j) => j.prompt),
        { maxTokens: this.o.maxTokens, temperature: this.o.temperature, json: true, onEach: handle },
      )
      texts.forEach((text, i) => handle(i, text))
      pending = again
    }
    if (pending.length > 0) {
      if (this.o.onInvalid === 'throw') {
        throw new Error(`hiexp: ${this.name}: ${pending.length} prompt(s) got no valid reply after ${this.o.invalidRetries + 1} asks; last: ${errors.get(pending[0].key)}`)
      }
      this.stats.skipped += pending.length
    }
    const out: Experience[] = []
    for (const j of jobs) {
      const r = replies.get(j.key)
      if (!r) continue
      r.experiences.forEach((e, i) => {
        out.push({
          id: `${this.name}:${j.key.slice(0, 12)}:${i}`,
          text: e.text,
          kind: e.kind,
          when: e.when,
          taskType: e.taskType ?? j.group.taskType,
          // A pair's success pattern is shown by its success, its failure pattern by its failure; a candidate set's
          // pattern by every trajectory of the set.
          support: j.pair ? 1 : j.sources.length,
          successRate: j.pair ? (e.kind === 'failure-pattern' ? 0 : 1) : j.successRate,
          sources: j.sources,
          origin: this.name,
        })
      })
    }
    return out
  }
}

/** The LLM (teacher) distiller: an OpenAI-compatible chat endpoint. */
export function llmDistiller(endpoint: OpenAIChatOptions, options: PromptDistillerOptions = {}): PromptDistiller {
  return new PromptDistiller(new OpenAIChatGenerator(endpoint), { name: `llm:${endpoint.model}`, ...options })
}

/** Self-distillation: the policy being trained writes the experiences (see policyTextGenerator). */
export function selfDistiller(generator: TextGenerator, options: PromptDistillerOptions = {}): PromptDistiller {
  return new PromptDistiller(generator, { name: 'self', ...options })
}
