/**
 * The multi-turn rollout loop (Search-R1's agent loop), a state machine over tags:
 *
 *   prompt ──generate──▶ turn text ──parse──▶ <search> q </search>  ──retrieve top-k──▶ <information>…</information> ─┐
 *      ▲                                     <answer> a </answer>   ──▶ done ('answer')                                 │
 *      │                                     malformed              ──▶ done ('malformed', format penalty)              │
 *      │                                     no room / no turns     ──▶ done ('max-tokens' / 'max-turns')               │
 *      └──────────────────────────────────────────────────────────────────────────────────────────────────────────────┘
 *
 * Every token is labelled while the sequence is assembled: mask 1 for tokens the policy generated, 0 for the prompt (with
 * any experiences in its slot) and the inserted `<information>` blocks (documents, and the experience a request's
 * `searchExperience` returns for the query: HiExp's second injection point), so the loss never sees inserted text. Sampling log-probabilities are kept
 * aligned with the tokens (0 where inserted). All active rollouts of the batch go to ONE `generate` call per turn and
 * their queries to ONE `search` call. Malformed output never throws; a broken policy or retriever does.
 */
import { z } from 'zod'
import type { Passage, Retriever } from '../search/types.js'
import type { Generation, GenerationPolicy } from './policy.js'
import { CHAT_FORMATS, promptText } from './chat.js'
import { DEFAULT_TEMPLATE, formatPassages, formatSearchExperience, INFO_CLOSE, INFO_OPEN, STOP_STRINGS } from './prompt.js'
import { parseAction, turnFormat } from './tags.js'

export const RolloutOptionsSchema = z
  .object({
    /** Prompt template with {question} and {experiences} slots. */
    template: z
      .string()
      .refine((s) => s.includes('{question}'), { message: 'must contain the {question} slot' })
      .default(DEFAULT_TEMPLATE),
    /**
     * The checkpoint's chat template around the prompt: 'none' (raw text), 'search-r1' (Search-R1's instruct format:
     * the prompt as one user message) or 'system' (instruction and experiences as the system message, the question as
     * the user message). A run's default: 'search-r1' with policy.checkpoint, 'none' for the from-scratch policy.
     */
    chat: z.enum(CHAT_FORMATS).default('none'),
    /** Passages retrieved per search. */
    topk: z.number().int().min(1).max(100).default(3),
    /** Generation turns per rollout; a search asked in the last turn ends the rollout ('max-turns'). */
    maxTurns: z.number().int().min(1).max(64).default(5),
    /** New tokens per turn. */
    maxTurnTokens: z.number().int().min(1).default(64),
    /** Whole sequence (prompt + turns + information), never exceeded. */
    maxTotalTokens: z.number().int().min(2).default(1024),
    /** One <information> block, tags included; longer retrieved text is cut, the closing tag kept. */
    maxInfoTokens: z.number().int().min(1).default(256),
    temperature: z.number().min(0).default(1),
    topP: z.number().gt(0).max(1).optional(),
    topK: z.number().int().min(0).optional(),
    /** Base sampling seed; turn t samples with seed + t. */
    seed: z.number().int().optional(),
  })
  .strict()

export type RolloutOptions = z.input<typeof RolloutOptionsSchema>
export type ResolvedRolloutOptions = z.output<typeof RolloutOptionsSchema>

export interface RolloutRequest {
  question: string
  /** Rendered experience for the template's {experiences} slot (empty: none). */
  experiences?: string
  /**
   * HiExp's search-time experience: called with each query this rollout searches; a non-empty text is returned to the
   * policy after the documents, inside the same <information> block (mask 0).
   */
  searchExperience?: (query: string) => Promise<string> | string
}

export type FinishReason = 'answer' | 'malformed' | 'max-turns' | 'max-tokens'

export interface Turn {
  /** What the policy generated in this turn (decoded). */
  text: string
  action: 'search' | 'answer' | 'invalid' | 'truncated'
  query?: string
  /** Retrieved passage ids, best first, when the search ran. */
  passageIds?: string[]
  /** The inserted block (`\n\n<information>…</information>\n\n`), as inserted (possibly cut). */
  information?: string
  /** [start, end) of this turn's generated tokens in `tokens`. */
  span: [number, number]
  /** [start, end) of the inserted information tokens, when any. */
  infoSpan?: [number, number]
  /** The experience returned with the documents (the line as inserted), when any. */
  experience?: string
  /** [start, end) of the experience line's tokens, inside infoSpan. */
  experienceSpan?: [number, number]
  wellFormed: boolean
  hasThink: boolean
}

export interface Rollout {
  /** Position of its request in the batch. */
  index: number
  prompt: string
  promptLength: number
  /** Prompt, generated and inserted tokens, in order. */
  tokens: number[]
  /** 1 = generated by the policy (the loss sees it), 0 = prompt or inserted information. */
  mask: Uint8Array
  /** Sampling log-probability of each generated token; 0 where mask is 0. */
  logprobs: Float32Array
  turns: Turn[]
  /** Content of <answer> … </answer> (trimmed), or null. */
  answer: string | null
  /** Queries in order, including one asked in the last turn that was not run. */
  queries: string[]
  searchCalls: number
  /** Generated tokens (mask 1). */
  responseTokens: number
  finish: FinishReason
  /** Why the rollout was malformed. */
  formatError?: string
}

export interface RolloutTiming {
  generateMs: number
  retrieveMs: number
  totalMs: number
  generateCalls: number
  retrieveCalls: number
}

/** Calls back while a batch runs (progress bars of long batches: the HEK build's rollouts). */
export interface RolloutHooks {
  /** After each turn: rollouts finished so far, of the batch's total. */
  onTurn?: (finished: number, total: number) => void
}

export interface RolloutBatch {
  rollouts: Rollout[]
  timing: RolloutTiming
}

/** A rollout being assembled: the sequence, its mask and log-probabilities grow together, segment by segment. */
class Builder {
  readonly tokens: number[] = []
  readonly mask: number[] = []
  readonly logprobs: number[] = []
  readonly turns: Turn[] = []
  readonly queries: string[] = []
  answer: string | null = null
  searchCalls = 0
  finish: FinishReason | undefined
  formatError: string | undefined

  constructor(
    readonly index: number,
    readonly prompt: string,
    readonly promptLength: number,
    readonly searchExperience?: RolloutRequest['searchExperience'],
  ) {}

  append(ids: number[], generated: boolean, logprobs?: number[]): [number, number] {
    const start = this.tokens.length
    for (let i = 0; i < ids.length; i++) {
      this.tokens.push(ids[i])
      this.mask.push(generated ? 1 : 0)
      this.logprobs.push(generated ? logprobs![i] : 0)
    }
    return [start, this.tokens.length]
  }

  end(reason: FinishReason, formatError?: string): void {
    this.finish = reason
    if (formatError !== undefined) this.formatError = formatError
  }

  build(): Rollout {
    const r: Rollout = {
      index: this.index,
      prompt: this.prompt,
      promptLength: this.promptLength,
      tokens: this.tokens,
      mask: Uint8Array.from(this.mask),
      logprobs: Float32Array.from(this.logprobs),
      turns: this.turns,
      answer: this.answer,
      queries: this.queries,
      searchCalls: this.searchCalls,
      responseTokens: this.mask.reduce((s, m) => s + m, 0),
      finish: this.finish!,
    }
    if (this.formatError !== undefined) r.formatError = this.formatError
    return r
  }
}

export function parseRolloutOptions(options: RolloutOptions = {}): ResolvedRolloutOptions {
  const parsed = RolloutOptionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`runRollouts: option ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}

/** Runs one batch of rollouts to completion (one request = one rollout; repeat a request for a group of G). */
export async function runRollouts(
  policy: GenerationPolicy,
  retriever: Retriever,
  requests: readonly RolloutRequest[],
  options: RolloutOptions = {},
  hooks: RolloutHooks = {},
): Promise<RolloutBatch> {
  const o = parseRolloutOptions(options)
  const started = performance.now()
  const timing: RolloutTiming = { generateMs: 0, retrieveMs: 0, totalMs: 0, generateCalls: 0, retrieveCalls: 0 }
  const tok = policy.tokenizer

  const all = requests.map((req, i) => {
    if (typeof req?.question !== 'string') throw new TypeError(`runRollouts: requests[${i}].question must be a string`)
    const prompt = promptText(o.template, req, o.chat, tok)
    const ids = tok.encode(prompt)
    if (req.searchExperience !== undefined && typeof req.searchExperience !== 'function') {
      throw new TypeError(`runRollouts: requests[${i}].searchExperience must be a function (query) => text`)
    }
    const b = new Builder(i, prompt, ids.length, req.searchExperience)
    b.append(ids, false)
    // A prompt that leaves no room to generate ends at once rather than overrunning the budget.
    if (ids.length >= o.maxTotalTokens) b.end('max-tokens')
    return b
  })

  for (let turn = 0; turn < o.maxTurns; turn++) {
    const active = all.filter((b) => b.finish === undefined)
    if (active.length === 0) break

    // ---- generate: one batched call for every active rollout ---------------------------------------------------
    const limits = active.map((b) => Math.min(o.maxTurnTokens, o.maxTotalTokens - b.tokens.length))
    const t0 = performance.now()
    const gens = await policy.generate(
      active.map((b) => b.tokens.slice()),
      {
        maxNewTokens: Math.max(...limits),
        stop: [...STOP_STRINGS],
        temperature: o.temperature,
        ...(o.topP !== undefined && { topP: o.topP }),
        ...(o.topK !== undefined && { topK: o.topK }),
        ...(o.seed !== undefined && { seed: o.seed + turn }),
      },
    )
    timing.generateMs += performance.now() - t0
    timing.generateCalls++
    if (!Array.isArray(gens) || gens.length !== active.length) {
      throw new TypeError(`runRollouts: policy.generate returned ${gens?.length} generations for ${active.length} sequences`)
    }

    // ---- parse each turn --------------------------------------------------------------------------------------
    const searching: Array<{ b: Builder; t: Turn; query: string }> = []
    active.forEach((b, k) => {
      const g = clip(gens[k], limits[k], tok.decode.bind(tok), k)
      const span = b.append(g.tokens, true, g.logprobs)
      const t: Turn = { text: g.text, action: 'truncated', span, ...turnFormat(g.text) }
      b.turns.push(t)
      if (g.finish === 'length') {
        t.wellFormed = false
        return b.end('max-tokens')
      }
      const action = parseAction(g.text)
      if (action.kind === 'invalid') {
        t.action = 'invalid'
        return b.end('malformed', action.reason)
      }
      if (action.kind === 'answer') {
        t.action = 'answer'
        b.answer = action.answer
        return b.end('answer')
      }
      t.action = 'search'
      t.query = action.query
      b.queries.push(action.query)
      if (turn + 1 >= o.maxTurns) return b.end('max-turns')
      if (b.tokens.length >= o.maxTotalTokens) return b.end('max-tokens')
      searching.push({ b, t, query: action.query })
    })
    hooks.onTurn?.(all.filter((b) => b.finish !== undefined).length, all.length)
    if (searching.length === 0) continue

    // ---- retrieve: one batched call, then insert <information> (mask 0) ------------------------------------------
    const t1 = performance.now()
    const results = await retriever.search(
      searching.map((s) => s.query),
      o.topk,
    )
    if (!Array.isArray(results) || results.length !== searching.length) {
      throw new TypeError(`runRollouts: retriever.search returned ${results?.length} lists for ${searching.length} queries`)
    }
    const experiences = await Promise.all(searching.map(({ b, query }) => (b.searchExperience ? b.searchExperience(query) : '')))
    timing.retrieveMs += performance.now() - t1
    timing.retrieveCalls++
    searching.forEach(({ b, t }, k) => {
      const passages = results[k].slice(0, o.topk)
      b.searchCalls++
      t.passageIds = passages.map((p) => p.id)
      if (typeof experiences[k] !== 'string') throw new TypeError(`runRollouts: requests[${b.index}].searchExperience returned ${typeof experiences[k]}, expected a string`)
      // Leave at least one token for the next turn.
      const room = Math.min(o.maxInfoTokens, o.maxTotalTokens - b.tokens.length - 1)
      const block = informationBlock(passages, room, tok, formatSearchExperience(experiences[k]))
      if (block === undefined) return b.end('max-tokens')
      t.information = block.text
      const start = b.tokens.length
      t.infoSpan = b.append(block.ids, false)
      if (block.experience) {
        t.experience = block.experience.text
        t.experienceSpan = [start + block.experience.at, start + block.experience.at + block.experience.length]
      }
    })
  }
  hooks.onTurn?.(all.length, all.length)

  const rollouts = all.map((b) => {
    // Defensive: every path above ends a rollout by its last turn.
    if (b.finish === undefined) b.end('max-turns')
    return b.build()
  })
  timing.totalMs = performance.now() - started
  return { rollouts, timing }
}

/** Cuts a generation to this rollout's own budget (the batched call used the largest one). */
function clip(g: Generation, limit: number, decode: (ids: number[]) => string, k: number): Generation {
  if (!g || !Array.isArray(g.tokens) || !Array.isArray(g.logprobs) || g.tokens.length !== g.logprobs.length) {
    throw new TypeError(`runRollouts: generation ${k} must have tokens and logprobs of equal length`)
  }
  if (g.tokens.length <= limit) return g
  const tokens = g.tokens.slice(0, limit)
  return { tokens, logprobs: g.logprobs.slice(0, limit), text: decode(tokens), finish: 'length' }
}

/**
 * Token ids of `\n\n<information>docs[experience]</information>\n\n` within `room` tokens: whole when it fits,
 * otherwise the passages are cut (the experience line kept whole while it fits, else left out) and the tags kept;
 * undefined when not even the tags fit. `experience.at` is the offset of the experience line's tokens in `ids`.
 */
function informationBlock(
  passages: readonly Passage[],
  room: number,
  tok: GenerationPolicy['tokenizer'],
  experienceLine = '',
): { ids: number[]; text: string; experience?: { text: string; at: number; length: number } } | undefined {
  const docs = formatPassages(passages)
  if (experienceLine === '') {
    const text = `${INFO_OPEN}${docs}${INFO_CLOSE}`
    const ids = tok.encode(text)
    if (ids.length <= room) return { ids, text }
  }
  const close = tok.encode(INFO_CLOSE)
  const exp = experienceLine === '' ? [] : tok.encode(experienceLine)
  if (exp.length > 0) {
    // Encoded as the block without experience is (open tag and documents together), the line and the closing tag after.
    const head = tok.encode(`${INFO_OPEN}${docs}`)
    if (head.length + exp.length + close.length <= room) {
      return { ids: [...head, ...exp, ...close], text: `${INFO_OPEN}${docs}${experienceLine}${INFO_CLOSE}`, experience: { text: experienceLine, at: head.length, length: exp.length } }
    }
  }
  const open = tok.encode(INFO_OPEN)
  // Cut: the experience is kept only when the tags still fit around it.
  const withExp = exp.length > 0 && open.length + exp.length + close.length <= room
  const keep = room - open.length - close.length - (withExp ? exp.length : 0)
  if (keep < 0) return undefined
  const body = tok.encode(docs).slice(0, keep)
  const bodyText = tok.decode(body)
  if (!withExp) return { ids: [...open, ...body, ...close], text: `${INFO_OPEN}${bodyText}${INFO_CLOSE}` }
  return {
    ids: [...open, ...body, ...exp, ...close],
    text: `${INFO_OPEN}${bodyText}${experienceLine}${INFO_CLOSE}`,
    experience: { text: experienceLine, at: open.length + body.length, length: exp.length },
  }
}

/** Pads rollouts to one [B, T] batch (right padding), in the flat layout the native losses take. */
export function packRollouts(
  rollouts: readonly Rollout[],
  padId: number,
): { B: number; T: number; tokens: Int32Array; mask: Float32Array; logprobs: Float32Array; lengths: Int32Array } {
  const B = rollouts.length
  const T = Math.max(0, ...rollouts.map((r) => r.tokens.length))
  const tokens = new Int32Array(B * T).fill(padId)
  const mask = new Float32Array(B * T)
  const logprobs = new Float32Array(B * T)
  const lengths = new Int32Array(B)
  rollouts.forEach((r, b) => {
    tokens.set(r.tokens, b * T)
    mask.set(r.mask, b * T)
    logprobs.set(r.logprobs, b * T)
    lengths[b] = r.tokens.length
  })
  return { B, T, tokens, mask, logprobs, lengths }
}

/**
 * The same trajectory behind another prompt (for HiExp's alignment to the experience-free policy: sampled with
 * experience, scored without). The response keeps its mask and sampling log-probabilities.
 */
export function withPrompt(rollout: Rollout, promptIds: readonly number[]): { tokens: number[]; mask: Uint8Array; logprobs: Float32Array; promptLength: number } {
  const n = rollout.tokens.length - rollout.promptLength
  const mask = new Uint8Array(promptIds.length + n)
  mask.set(rollout.mask.subarray(rollout.promptLength), promptIds.length)
  const logprobs = new Float32Array(promptIds.length + n)
  logprobs.set(rollout.logprobs.subarray(rollout.promptLength), promptIds.length)
  return { tokens: [...promptIds, ...rollout.tokens.slice(rollout.promptLength)], mask, logprobs, promptLength: promptIds.length }
}

/**
 * The same trajectory as an experience-free policy would have seen it (hiexp's internalisation variant): behind
 * another prompt, and with every search-time experience line cut out of its `<information>` block. The documents and
 * the policy's own tokens stay, with their mask and sampling log-probabilities. (The block's tokens are those of the
 * documents and tags encoded apart from the line, so a word-level tokenizer gives exactly the experience-free block.)
 */
export function experienceFree(rollout: Rollout, promptIds: readonly number[]): { tokens: number[]; mask: Uint8Array; logprobs: Float32Array; promptLength: number } {
  const cut = new Uint8Array(rollout.tokens.length)
  for (const t of rollout.turns) if (t.experienceSpan) cut.fill(1, t.experienceSpan[0], t.experienceSpan[1])
  const tokens = [...promptIds]
  const mask: number[] = promptIds.map(() => 0)
  const logprobs: number[] = promptIds.map(() => 0)
  for (let i = rollout.promptLength; i < rollout.tokens.length; i++) {
    if (cut[i]) continue
    tokens.push(rollout.tokens[i])
    mask.push(rollout.mask[i])
    logprobs.push(rollout.logprobs[i])
  }
  return { tokens, mask: Uint8Array.from(mask), logprobs: Float32Array.from(logprobs), promptLength: promptIds.length }
}

/**
 * The trajectory as text, as the policy saw it: the prompt, then each turn's generated text and inserted information
 * (decoded texts; the input of experience distillation and of logs).
 */
export function trajectoryText(rollout: Pick<Rollout, 'prompt' | 'turns'>): string {
  return rollout.prompt + rollout.turns.map((t) => t.text + (t.information ?? '')).join('')
}
