/**
 * Prompt-based contrastive distillation: for each contrastive pair (or pattern-candidate set) a prompt from a
 * template file asks a text generator what made the difference; the reply must be JSON that zod accepts. Used with
 * an OpenAI-compatible endpoint it is the LLM (teacher) distiller; with the policy's generator it is
 * self-distillation. Replies are cached on disk by the content hash of (generator id, prompt, sampling options), so a
 * rerun pays nothing twice. A reply that is not valid JSON of the schema is asked again (up to `invalidRetries`),
 * then skipped and counted (or thrown, with `onInvalid: 'throw'`). Unusable replies (too large, endless, HTML, no
 * choices, no text: reply.ts) are counted by kind the same way, and the others carry on; when no prompt got a valid
 * reply the distillation fails (`NoValidReplyError`) instead of returning nothing. Everything taken from trajectories
 * is bounded and fenced as data in the prompt (sanitize.ts), never as instructions.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { writeFileAtomic } from '../util/atomic.js'
import { contrastivePairs, parsePairingOptions, type PairingOptions } from './pairing.js'
import { OpenAIChatGenerator, type OpenAIChatOptions, type TextGenerator } from './generator.js'
import type { BadReplyError, BadReplyKind } from './reply.js'
import { boundLength, promptData, sanitizeExperienceField, sanitizeExperienceText } from './sanitize.js'
import { firstIssue, type Distiller, type Experience, type TrajectoryGroup, type TrajectoryRecord } from './types.js'
import { roleForm } from './roles.js'

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

/** One line of data for a prompt: controls dropped, whitespace as single spaces, no ``` fence, at most `max` chars. */
const inline = (text: string, max: number) => promptData(text.replace(/\s+/g, ' ').trim(), max)
/** Characters of a query, an answer or a malformed output shown in a prompt. */
const TURN_CHARS = 300
/** Characters of the question shown in a prompt. */
const QUESTION_CHARS = 1000

/**
 * A compact, readable rendering of one trajectory for a prompt (information cut to `infoChars` per search, every
 * other field bounded too, and the whole to `maxChars`): it is data, shown between fences by the templates.
 */
export function renderTrajectory(t: TrajectoryRecord, infoChars = 300, maxChars = 4000): string {
  const lines: string[] = []
  t.turns.forEach((turn, i) => {
    if (turn.action === 'search') {
      lines.push(`${i + 1}. search: ${inline(turn.query ?? '', TURN_CHARS)}`)
      if (turn.information !== undefined) lines.push(`   results: ${inline(turn.information.replace(/<\/?information>/g, ''), infoChars + 1)}`)
    } else if (turn.action === 'answer') lines.push(`${i + 1}. answer: ${inline(t.answer ?? '', TURN_CHARS)}`)
    else lines.push(`${i + 1}. ${turn.action} output: ${inline(turn.text, TURN_CHARS)}`)
  })
  lines.push(`ended: ${t.finish}${t.formatError ? ` (${inline(t.formatError, TURN_CHARS)})` : ''}; reward ${t.reward.total}`)
  return boundLength(lines.join('\n'), maxChars)
}

/** A task type as an identifier only (it sits in the prompt's header and JSON example, outside the fences). */
const taskTypeSlot = (taskType: string) => taskType.replace(/[^\p{L}\p{N}_.-]/gu, '').slice(0, 40) || 'unknown'

// Texts are cleaned and bounded as they enter (sanitize.ts): a reply is a model's text, not trusted.
const ReplyExperienceSchema = z.object({
  text: z.string().transform(sanitizeExperienceText).pipe(z.string().min(3)),
  kind: z.enum(['success-pattern', 'failure-pattern', 'principle']),
  when: z.string().transform(sanitizeExperienceField).default('any question'),
  taskType: z.string().transform(sanitizeExperienceField).optional(),
})
/** Experiences kept from one reply (the prompts ask for one to three; a runaway reply does not flood the HEK). */
export const MAX_EXPERIENCES_PER_REPLY = 8
// A bare array of experiences is accepted as well as {"experiences": [...]} (one schema, so errors name the field).
export const DistillReplySchema = z.preprocess(
  (v) => (Array.isArray(v) ? { experiences: v } : v),
  z.object({ experiences: z.array(ReplyExperienceSchema).min(1).transform((a) => a.slice(0, MAX_EXPERIENCES_PER_REPLY)) }),
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
    /** max_tokens of each reply (bounded: a reply is one to three sentences of JSON). */
    maxTokens: z.number().int().min(1).max(16_384).default(512),
    temperature: z.number().min(0).default(0),
    /** Extra asks after an invalid reply. */
    invalidRetries: z.number().int().min(0).default(2),
    onInvalid: z.enum(['skip', 'throw']).default('skip'),
    /** Directory of the reply cache (none: no cache). */
    cacheDir: z.string().optional(),
    /** Characters of each search's results shown in a prompt. */
    infoChars: z.number().int().min(0).max(20_000).default(300),
    /** Characters of one rendered trajectory shown in a prompt (everything in it is bounded before it gets there). */
    maxTrajectoryChars: z.number().int().min(200).max(100_000).default(4000),
    /**
     * When no prompt got a valid reply: 'throw' (NoValidReplyError: an endpoint that answers nothing usable is a
     * broken setup) or 'empty' (return no experience: self-distillation by a small policy that cannot write JSON yet).
     */
    onNothingValid: z.enum(['throw', 'empty']).default('throw'),
    name: z.string().optional(),
  })
  .strict()
export type PromptDistillerOptions = z.input<typeof PromptDistillerOptionsSchema> & {
  pairing?: PairingOptions
  /** Where the count of bad replies of a distillation is reported (one line; default: nowhere). */
  log?: (line: string) => void
}

/** Why a reply was refused: what the endpoint sent (reply.ts), or the text inside it. */
export type ReplyProblem = BadReplyKind | 'invalid-json' | 'schema-mismatch'

/** "oversized 1, not-json-body 2" */
export function describeProblems(counts: Partial<Record<ReplyProblem, number>>): string {
  return Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')
}

/** No prompt of a distillation got a valid reply: the message counts the bad replies by kind and shows the last. */
export class NoValidReplyError extends Error {
  override name = 'NoValidReplyError'
}

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
  /** Invalid replies by why they were refused (they sum to invalidReplies). */
  badReplies: Partial<Record<ReplyProblem, number>>
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
  stats: DistillStats = { prompts: 0, cacheHits: 0, generatorCalls: 0, asked: 0, invalidReplies: 0, skipped: 0, badReplies: {} }
  /** The last reply that failed validation (its start) and why: what a distiller that yields nothing wrote. */
  lastInvalid?: { reply: string; error: string; kind: ReplyProblem }
  private readonly log?: (line: string) => void

  constructor(readonly generator: TextGenerator, options: PromptDistillerOptions = {}) {
    const { pairing, log, ...rest } = options
    const p = PromptDistillerOptionsSchema.safeParse(rest)
    if (!p.success) throw new RangeError(`distiller options: ${firstIssue(p.error)}`)
    this.o = p.data
    this.pairing = pairing ?? {}
    this.log = log
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
      const base = { question: inline(g.question, QUESTION_CHARS), task_type: taskTypeSlot(g.taskType), hops: g.hops ?? '?' }
      const render = (t: TrajectoryRecord) => renderTrajectory(t, this.o.infoChars, this.o.maxTrajectoryChars)
      for (const pair of c.pairs) {
        const prompt = fillTemplate(this.pairTemplate, {
          ...base,
          success: render(pair.success),
          failure: render(pair.failure),
        })
        jobs.push({ key: this.key(prompt), prompt, group: g, sources: [pair.success.id, pair.failure.id], successRate: 0.5, pair: true })
      }
      if (c.candidates) {
        const ok = c.candidates.outcome === 'success'
        const prompt = fillTemplate(this.candidateTemplate, {
          ...base,
          outcome_verb: ok ? 'succeeded' : 'failed',
          kind: ok ? 'success-pattern' : 'failure-pattern',
          trajectories: c.candidates.trajectories.map((t, i) => `Attempt ${i + 1}:\n${render(t)}`).join('\n\n'),
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
    const before = { ...this.stats.badReplies }
    const distinct = pending.length + replies.size
    for (let attempt = 0; attempt <= this.o.invalidRetries && pending.length > 0; attempt++) {
      this.stats.generatorCalls++
      this.stats.asked += pending.length
      // Each reply is checked and cached as it arrives, so a failure later in the batch loses nothing already paid for.
      const handled = new Set<number>()
      const again: Job[] = []
      const refuse = (i: number, kind: ReplyProblem, error: string, reply: string) => {
        this.stats.invalidReplies++
        this.stats.badReplies[kind] = (this.stats.badReplies[kind] ?? 0) + 1
        errors.set(pending[i].key, error)
        this.lastInvalid = { reply: reply.slice(0, 160), error, kind }
        again.push(pending[i])
      }
      const handle = (i: number, text: unknown) => {
        if (handled.has(i) || i < 0 || i >= pending.length) return
        handled.add(i)
        const j = pending[i]
        // A generator is any code (the policy, a user's): what it returns is checked like an endpoint's reply.
        if (typeof text !== 'string') return refuse(i, 'non-string-content', `the generator returned a ${text === null ? 'null' : typeof text}, not text`, '')
        try {
          const r = parseReply(text, DistillReplySchema)
          replies.set(j.key, r)
          const path = this.cachePath(j.key)
          if (path) writeFileAtomic(path, JSON.stringify(r))
        } catch (e) {
          refuse(i, e instanceof SyntaxError ? 'invalid-json' : 'schema-mismatch', (e as Error).message, text)
        }
      }
      const onBadReply = (i: number, e: BadReplyError) => {
        if (handled.has(i) || i < 0 || i >= pending.length) return
        handled.add(i)
        refuse(i, e.kind, e.message, '')
      }
      const texts = await this.generator.complete(
        pending.map((j) => j.prompt),
        { maxTokens: this.o.maxTokens, temperature: this.o.temperature, json: true, onEach: handle, onBadReply },
      )
      // A generator that returns fewer texts than prompts leaves the rest unanswered: refused, not skipped silently.
      pending.forEach((_, i) => handle(i, (texts as unknown[])[i]))
      pending = again
    }
    if (pending.length > 0) {
      if (this.o.onInvalid === 'throw') {
        throw new Error(`hiexp: ${this.name}: ${pending.length} prompt(s) got no valid reply after ${this.o.invalidRetries + 1} asks; last: ${errors.get(pending[0].key)}`)
      }
      this.stats.skipped += pending.length
    }
    const now: Partial<Record<ReplyProblem, number>> = {}
    for (const [k, n] of Object.entries(this.stats.badReplies) as Array<[ReplyProblem, number]>) if (n > (before[k] ?? 0)) now[k] = n - (before[k] ?? 0)
    const bad = Object.values(now).reduce((a, b) => a + b, 0)
    if (distinct > 0 && replies.size === 0 && this.o.onNothingValid === 'throw') {
      const last = this.lastInvalid
      throw new NoValidReplyError(
        `hiexp: ${this.name}: none of the ${distinct} distinct prompts got a valid reply in ${this.o.invalidRetries + 1} asks each ` +
          `(${bad} bad replies: ${describeProblems(now)})` +
          (last ? `; last (${last.kind}): ${last.error}${last.reply ? `; it began ${JSON.stringify(last.reply.slice(0, 80))}` : ''}` : ''),
      )
    }
    if (bad > 0) {
      this.log?.(`hiexp: ${this.name}: ${replies.size} of ${distinct} distinct prompts got a valid reply; ${bad} bad replies (${describeProblems(now)}), ${pending.length} prompts skipped`)
    }
    const out: Experience[] = []
    for (const j of jobs) {
      const r = replies.get(j.key)
      if (!r) continue
      r.experiences.forEach((e, i) => {
        out.push({
          id: `${this.name}:${j.key.slice(0, 12)}:${i}`,
          // Names the model copied from the question or the results become role slots (roles.ts).
          text: roleForm(e.text, { question: j.group.question }),
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
  // Bad replies are reported on stderr by default (the CLI prints only the experiences' count on stdout).
  return new PromptDistiller(new OpenAIChatGenerator(endpoint), { name: `llm:${endpoint.model}`, log: (line) => console.error(line), ...options })
}

/** Self-distillation: the policy being trained writes the experiences (see policyTextGenerator). */
export function selfDistiller(generator: TextGenerator, options: PromptDistillerOptions = {}): PromptDistiller {
  // A small policy that cannot write JSON yet has nothing to say: a finding (buildHek reports it), not a failure.
  return new PromptDistiller(generator, { name: 'self', onNothingValid: 'empty', ...options })
}
