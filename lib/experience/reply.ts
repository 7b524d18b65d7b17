/**
 * What an OpenAI-compatible endpoint may answer, bounded and classified. The `openai` client reads a whole reply into
 * memory with no size cap, and its time-out stops at the headers, so a 100 MB body exhausts the heap and a body that
 * never ends hangs the run. `boundedFetch` (given to the client as its fetch) reads at most `maxBytes` within
 * `timeoutMs` of the request, and refuses a success body that is not JSON (an HTML error page, a proxy's login page).
 * `replyContent` takes the text out of a chat completion, or says what is wrong with it. Each problem is a
 * `BadReplyError` with a kind, so a distiller can count it, skip that one reply and carry on with the others.
 */

import { readBoundedBody } from '../util/bounded_body.js'

/** Why one reply was unusable (the distiller adds 'invalid-json' and 'schema-mismatch' for the text inside). */
export type BadReplyKind = 'oversized' | 'endless' | 'not-json-body' | 'no-choices' | 'non-string-content' | 'empty-content'

export class BadReplyError extends Error {
  override name = 'BadReplyError'
  constructor(
    readonly kind: BadReplyKind,
    message: string,
  ) {
    super(message)
  }

  // The openai client decides that a failed fetch was a time-out by matching /timed? ?out/ against String(error), and
  // then throws a bare time-out error without the cause. A detail such as an HTML "Gateway Timeout" page would match.
  override toString(): string {
    return `BadReplyError (${this.kind})`
  }
}

/** A bad reply thrown inside the client's fetch arrives wrapped (APIConnectionError → cause): find it. */
export function findBadReply(e: unknown): BadReplyError | undefined {
  let c: unknown = e
  for (let i = 0; i < 5 && c; i++) {
    if (c instanceof BadReplyError) return c
    c = (c as { cause?: unknown }).cause
  }
  return undefined
}

export interface ReplyLimits {
  /** Most bytes of body read (after decompression); more is cut and refused as 'oversized'. */
  maxBytes: number
  /** Whole request, headers and body: a body still arriving after this is cut and refused as 'endless'. */
  timeoutMs: number
}

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** A short, printable preview of a body (it may be anything, terminal escapes included). */
function preview(text: string, chars = 120): string {
  const t = text.replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ').trim()
  return JSON.stringify(t.length > chars ? `${t.slice(0, chars)}…` : t)
}

function readText(res: Response, limits: ReplyLimits, msLeft: number, signal?: AbortSignal | null): Promise<string> {
  return readBoundedBody(res, {
    maxBytes: limits.maxBytes,
    msLeft,
    signal,
    oversized: (size) => new BadReplyError('oversized', `the reply is over the cap of ${limits.maxBytes} bytes (maxReplyBytes); cut after ${size} bytes`),
    endless: (size) => new BadReplyError('endless', `the reply was still arriving ${limits.timeoutMs} ms after the request (${size} bytes so far); cut`),
  })
}

/** A fetch whose bodies are read whole but bounded (see the file comment); the client parses the copy it returns. */
export function boundedFetch(limits: ReplyLimits, base: Fetch = globalThis.fetch): Fetch {
  return async (input, init) => {
    const started = Date.now()
    const res = await base(input, init)
    const declared = Number(res.headers.get('content-length') ?? Number.NaN)
    if (declared > limits.maxBytes) {
      await res.body?.cancel().catch(() => {})
      throw new BadReplyError('oversized', `the reply declares ${declared} bytes, over the cap of ${limits.maxBytes} bytes (maxReplyBytes)`)
    }
    const text = await readText(res, limits, Math.max(1, started + limits.timeoutMs - Date.now()), init?.signal)
    // The copy is decoded already: the wire's length and encoding no longer describe it.
    const headers = new Headers(res.headers)
    headers.delete('content-length')
    headers.delete('content-encoding')
    if (res.ok) {
      try {
        JSON.parse(text)
      } catch {
        throw new BadReplyError('not-json-body', `the endpoint answered HTTP ${res.status} with a body that is not JSON (content-type ${res.headers.get('content-type') ?? 'none'}): ${preview(text)}`)
      }
      // A JSON body is read as JSON whatever the server labelled it.
      headers.set('content-type', 'application/json')
    }
    const noBody = [101, 204, 205, 304].includes(res.status)
    return new Response(noBody ? null : text, { status: res.status, statusText: res.statusText, headers })
  }
}

/**
 * The assistant text of a chat completion. Content given as a list of parts ({type: 'text', text}) is joined, as some
 * servers send it; anything else that is not a string is refused by kind.
 */
export function replyContent(res: unknown): string {
  const choices = (res as { choices?: unknown } | null)?.choices
  if (typeof res !== 'object' || res === null || !Array.isArray(choices) || choices.length === 0) {
    const what = typeof res === 'string' ? `text ${preview(res)}` : `JSON ${preview(JSON.stringify(res) ?? String(res))}`
    throw new BadReplyError('no-choices', `the reply holds no choices[0] (got ${what})`)
  }
  const message = (choices[0] as { message?: { content?: unknown } } | null)?.message
  const content = message?.content
  if (typeof content === 'string') {
    if (content.trim() === '') throw new BadReplyError('empty-content', 'the reply\'s choices[0].message.content is empty')
    return content
  }
  if (Array.isArray(content) && content.every((p) => typeof (p as { text?: unknown })?.text === 'string')) {
    return content.map((p) => (p as { text: string }).text).join('')
  }
  if (content === null || content === undefined) throw new BadReplyError('empty-content', `the reply has no choices[0].message.content (message ${preview(JSON.stringify(message) ?? 'undefined')})`)
  throw new BadReplyError('non-string-content', `the reply's choices[0].message.content is a ${Array.isArray(content) ? 'list' : typeof content}, not text: ${preview(JSON.stringify(content))}`)
}
