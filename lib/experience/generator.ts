/**
 * Text generators the prompt-based distillers and summarisers call: an OpenAI-compatible chat endpoint (teacher
 * distillation) or the policy being trained (self-distillation). Both behind one batched interface.
 */
import OpenAI from 'openai'
import { z } from 'zod'
import type { GenerationPolicy } from '../agent/policy.js'
import { BadReplyError, boundedFetch, findBadReply, replyContent } from './reply.js'
import { firstIssue } from './types.js'

export interface CompleteOptions {
  maxTokens: number
  temperature: number
  /** Ask for a JSON object where the backend supports it. */
  json?: boolean
  /**
   * Called with each reply as soon as it arrives (before the whole batch is done), so that a caller can keep what
   * came back even when a later request fails. Generators that answer a batch at once may call it at the end.
   */
  onEach?: (index: number, text: string) => void
  /**
   * Called instead of onEach when one reply is unusable (too large, endless, not JSON, no choices, no text: see
   * reply.ts); that prompt's text is then ''. The other prompts carry on.
   */
  onBadReply?: (index: number, error: BadReplyError) => void
}

export interface TextGenerator {
  /** Identifies the model in cache keys (a different model never reuses another's answers). */
  readonly id: string
  complete(prompts: readonly string[], opts: CompleteOptions): Promise<string[]>
}

/** The endpoint is unreachable, timed out, or refused the request after every retry. */
export class LlmEndpointError extends Error {
  constructor(message: string, readonly cause?: unknown) {
    super(message)
    this.name = 'LlmEndpointError'
  }
}

export const OpenAIChatOptionsSchema = z
  .object({
    /** e.g. http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:8080/v1 (llama.cpp), http://127.0.0.1:11434/v1 (Ollama). */
    baseURL: z.string().url(),
    model: z.string().min(1),
    apiKey: z.string().optional(),
    timeoutMs: z.number().int().min(1).default(60_000),
    /** Retries after a time-out, a dropped connection, 429 or 5xx (so up to maxRetries + 1 tries). */
    maxRetries: z.number().int().min(0).default(3),
    /** First back-off in ms; doubles each retry, with ±25 % jitter. */
    backoffMs: z.number().min(0).default(500),
    /** Requests in flight at once. */
    concurrency: z.number().int().min(1).default(4),
    /** Send response_format {type: 'json_object'} when json is asked (most servers support it). */
    jsonMode: z.boolean().default(true),
    /** Most bytes of one reply's body; a larger reply is cut and counted as a bad reply ('oversized'), not kept. */
    maxReplyBytes: z.number().int().min(1024).default(1 << 20),
  })
  .strict()
export type OpenAIChatOptions = z.input<typeof OpenAIChatOptionsSchema>

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs `fn` over items with at most `limit` in flight; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** An OpenAI-compatible chat endpoint through the `openai` package. */
export class OpenAIChatGenerator implements TextGenerator {
  readonly id: string
  private readonly o: z.output<typeof OpenAIChatOptionsSchema>
  private readonly client: OpenAI
  /** Requests sent (tries included). */
  requests = 0

  constructor(options: OpenAIChatOptions) {
    const p = OpenAIChatOptionsSchema.safeParse(options)
    if (!p.success) throw new RangeError(`OpenAIChatGenerator options: ${firstIssue(p.error)}`)
    this.o = p.data
    // The model name, not the URL, identifies answers in the cache: a server restarted on another port is the same model.
    this.id = `openai:${this.o.model}`
    // Retries are ours (so that back-off and the final error are the same for every failure).
    this.client = new OpenAI({
      baseURL: this.o.baseURL,
      apiKey: this.o.apiKey ?? process.env.OPENAI_API_KEY ?? 'none',
      timeout: this.o.timeoutMs,
      maxRetries: 0,
      // The client's time-out ends at the headers and it reads any body whole: bound both (reply.ts).
      fetch: boundedFetch({ maxBytes: this.o.maxReplyBytes, timeoutMs: this.o.timeoutMs }),
    })
  }

  complete(prompts: readonly string[], opts: CompleteOptions): Promise<string[]> {
    return mapLimit(prompts, this.o.concurrency, async (p, i) => {
      let text: string
      try {
        text = await this.one(p, opts)
      } catch (e) {
        if (!(e instanceof BadReplyError)) throw e
        opts.onBadReply?.(i, e)
        return ''
      }
      opts.onEach?.(i, text)
      return text
    })
  }

  private async one(prompt: string, opts: CompleteOptions): Promise<string> {
    let last: unknown
    for (let attempt = 0; attempt <= this.o.maxRetries; attempt++) {
      if (attempt > 0) await sleep(this.o.backoffMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5))
      try {
        this.requests++
        const res = await this.client.chat.completions.create({
          model: this.o.model,
          messages: [{ role: 'user', content: prompt }],
          max_tokens: opts.maxTokens,
          temperature: opts.temperature,
          ...(opts.json && this.o.jsonMode && { response_format: { type: 'json_object' as const } }),
        })
        return replyContent(res)
      } catch (e) {
        // One bad reply is the caller's to count and re-ask (not an endpoint failure to retry here).
        const bad = findBadReply(e)
        if (bad) throw bad
        last = e
        if (!retryable(e)) break
      }
    }
    throw new LlmEndpointError(`hiexp: the LLM endpoint ${this.o.baseURL} (model ${this.o.model}) failed: ${describeError(last, this.o.timeoutMs)}`, last)
  }
}

function retryable(e: unknown): boolean {
  if (e instanceof OpenAI.APIConnectionError) return true // includes APIConnectionTimeoutError
  if (e instanceof OpenAI.APIError) return e.status === undefined || e.status === 429 || e.status >= 500
  return false
}

function describeError(e: unknown, timeoutMs: number): string {
  if (e instanceof OpenAI.APIConnectionTimeoutError) return `no reply within ${timeoutMs} ms (time-out), after every retry`
  if (e instanceof OpenAI.APIConnectionError) {
    // The code (ECONNREFUSED, ENOTFOUND, …) sits at the bottom of the cause chain (APIConnectionError → fetch → socket).
    let c: unknown = e
    let code: string | undefined
    for (let i = 0; i < 5 && c; i++) {
      const x = c as { code?: unknown; cause?: unknown }
      if (typeof x.code === 'string') code = x.code
      c = x.cause
    }
    return `cannot connect (${code ?? e.message}); is the server running?`
  }
  if (e instanceof OpenAI.APIError) return `HTTP ${e.status}: ${e.message}`
  return (e as Error)?.message ?? String(e)
}

export interface PolicyGeneratorOptions {
  maxNewTokens?: number
  temperature?: number
  seed?: number
  id?: string
}

/**
 * The policy being trained as a text generator (self-distillation): each prompt is encoded with the policy's
 * tokenizer and continued in one batched `generate` call.
 */
export function policyTextGenerator(policy: GenerationPolicy, options: PolicyGeneratorOptions = {}): TextGenerator {
  return {
    id: options.id ?? 'policy',
    async complete(prompts, opts) {
      const gens = await policy.generate(
        prompts.map((p) => policy.tokenizer.encode(p)),
        {
          maxNewTokens: Math.min(opts.maxTokens, options.maxNewTokens ?? opts.maxTokens),
          temperature: options.temperature ?? opts.temperature,
          ...(options.seed !== undefined && { seed: options.seed }),
        },
      )
      return gens.map((g) => g.text)
    },
  }
}
