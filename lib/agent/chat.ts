// The prompt as a checkpoint reads it. An Instruct checkpoint was tuned on its chat template (Qwen2.5's ChatML:
// `<|im_start|>user\n…<|im_end|>\n<|im_start|>assistant\n`), so the rendered system/user prompt goes through the
// tokenizer's template, with the generation prompt after it; the agent's turns follow as the assistant's reply. The
// whole templated text is the prompt: mask 0 on every token of it, like the raw prompt.
import type { ChatMessage } from '../model/tokenizer.js'
import type { TokenizerLike } from './policy.js'
import { renderPrompt, type PromptSlots } from './prompt.js'

/**
 * 'none': the raw rendered template (the from-scratch policy). 'search-r1': Search-R1's instruct format, the whole
 * rendered prompt as one user message. 'system': the template's lines before the question (instruction and
 * experiences) as the system message, the question's line on as the user message.
 */
export const CHAT_FORMATS = ['none', 'search-r1', 'system'] as const
export type ChatFormat = (typeof CHAT_FORMATS)[number]

/** The chat messages of a prompt ('none' has none). */
export function chatMessages(template: string, slots: PromptSlots, chat: Exclude<ChatFormat, 'none'>): ChatMessage[] {
  if (chat === 'search-r1') return [{ role: 'user', content: renderPrompt(template, slots) }]
  // The question's line; an {experiences} slot at its start (the default templates) stays with the instruction.
  const q = template.indexOf('{question}')
  let at = template.lastIndexOf('\n', q) + 1
  const exp = template.indexOf('{experiences}', at)
  if (exp >= 0 && exp < q) at = exp + '{experiences}'.length
  const system = renderPrompt(`${template.slice(0, at)}{question}`, { ...slots, question: '' }).trim()
  const user = renderPrompt(template.slice(at), slots).trim()
  return system === '' ? [{ role: 'user', content: user }] : [{ role: 'system', content: system }, { role: 'user', content: user }]
}

/** The text the policy is given for a request: the rendered template, through the tokenizer's chat template unless 'none'. */
export function promptText(template: string, slots: PromptSlots, chat: ChatFormat, tokenizer: TokenizerLike): string {
  if (chat === 'none') return renderPrompt(template, slots)
  if (typeof tokenizer.applyChatTemplate !== 'function' || tokenizer.hasChatTemplate === false) {
    throw new RangeError(
      `rollout.chat '${chat}' needs a tokenizer with a chat template (tokenizer_config.json's chat_template); ` +
        "this one has none: a base checkpoint takes the raw prompt (rollout.chat: 'none')",
    )
  }
  return tokenizer.applyChatTemplate(chatMessages(template, slots, chat), { addGenerationPrompt: true })
}
