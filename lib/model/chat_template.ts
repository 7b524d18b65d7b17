/**
 * Chat templates (tokenizer_config.json's Jinja) rendered within bounds. A template is code from whoever made the
 * checkpoint, and @huggingface/jinja renders it synchronously without limits: `range(1000000000)` builds a billion-item
 * array (V8 aborts the whole process: "Fatal JavaScript invalid size error"), and nested loops run for hours. Here a
 * render is bounded in time, in output size and in the length of any range(); crossing a bound is a
 * ChatTemplateError saying which.
 *
 * The library offers no hook, so its interpreter's two evaluation entry points and its environment's `set` are wrapped
 * once; the wrappers only act while `renderChatTemplate` runs (rendering is synchronous, so no other render interleaves)
 * and leave any other use of the library as it was.
 */
import { Environment, Interpreter, type Template } from '@huggingface/jinja'

export interface ChatTemplateLimits {
  /** Longest rendered text, in characters (default 4 Mi). */
  maxChars?: number
  /** Longest render, in milliseconds (default 2000; a real template takes well under one). */
  timeoutMs?: number
  /** Most items one range() may produce (default 65536). */
  maxRange?: number
}

export const DEFAULT_CHAT_TEMPLATE_LIMITS: Required<ChatTemplateLimits> = { maxChars: 4 << 20, timeoutMs: 2000, maxRange: 65536 }

export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError'
}

interface Budget {
  limits: Required<ChatTemplateLimits>
  deadline: number
  steps: number
}

let active: Budget | undefined

function tick(b: Budget): void {
  if (++b.steps % 256 === 0 && Date.now() > b.deadline) {
    throw new ChatTemplateError(`chat template: rendering ran past ${b.limits.timeoutMs} ms (timeoutMs) and was stopped; the template loops too long`)
  }
}

function checkSize(b: Budget, value: unknown): void {
  const text = (value as { value?: unknown } | undefined)?.value
  if (typeof text === 'string' && text.length > b.limits.maxChars) {
    throw new ChatTemplateError(`chat template: the rendered text grew past ${b.limits.maxChars} characters (maxChars) and was stopped`)
  }
}

type Evaluate = (this: Interpreter, ...args: unknown[]) => unknown
const proto = Interpreter.prototype as unknown as Record<'evaluate' | 'evaluateBlock', Evaluate>
for (const method of ['evaluate', 'evaluateBlock'] as const) {
  const original = proto[method]
  proto[method] = function (this: Interpreter, ...args: unknown[]) {
    const b = active
    if (b) tick(b)
    const out = original.apply(this, args)
    if (b) checkSize(b, out)
    return out
  }
}

const envProto = Environment.prototype as unknown as { set: (name: string, value: unknown) => unknown }
const originalSet = envProto.set
envProto.set = function (this: Environment, name: string, value: unknown) {
  const b = active
  return originalSet.call(this, name, b && name === 'range' ? boundedRange(b) : value)
}

/** Python's range(), refusing more than maxRange items before building them. */
function boundedRange(b: Budget) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) {
      stop = start
      start = 0
    }
    if (step === 0) throw new ChatTemplateError('chat template: range() step must not be zero')
    const count = Math.max(0, Math.ceil((stop - start) / step))
    if (!Number.isFinite(count) || count > b.limits.maxRange) {
      throw new ChatTemplateError(`chat template: range() of ${count} items, more than the ${b.limits.maxRange} a template may loop over (maxRange)`)
    }
    return Array.from({ length: count }, (_, i) => start + i * step)
  }
}

/** Renders `template` with `items`, within `limits` (each bound a ChatTemplateError). */
export function renderChatTemplate(template: Template, items: Record<string, unknown>, limits: ChatTemplateLimits = {}): string {
  const resolved = { ...DEFAULT_CHAT_TEMPLATE_LIMITS, ...limits }
  if (active) throw new Error('renderChatTemplate: a render is already running (templates are rendered one at a time)')
  active = { limits: resolved, deadline: Date.now() + resolved.timeoutMs, steps: 0 }
  let text: string
  try {
    text = template.render(items)
  } catch (e) {
    if (e instanceof ChatTemplateError) throw e
    // V8's own refusal of an over-long string: the same bound, said as ours.
    if (e instanceof RangeError && /Invalid string length/.test(e.message)) {
      throw new ChatTemplateError(`chat template: the rendered text grew past what a string can hold and was stopped (maxChars is ${resolved.maxChars})`)
    }
    throw e
  } finally {
    active = undefined
  }
  if (text.length > resolved.maxChars) throw new ChatTemplateError(`chat template: the rendered text has ${text.length} characters, more than ${resolved.maxChars} (maxChars)`)
  return text
}
