/**
 * The agent's prompt and the text the environment inserts. The template has a `{question}` slot and an
 * `{experiences}` slot: empty by default, filled by HiExp with retrieved experience (rendered text).
 */
import { splitContents, type Passage } from '../search/types.js'

/** Short template for the embedded default (a word-level model trained from scratch reads every word of it). */
export const DEFAULT_TEMPLATE =
  'Answer the question. Think inside <think> </think>. Search with <search> query </search> and read the results ' +
  'inside <information> </information>. Search as often as needed, then give the answer inside <answer> </answer>.\n' +
  '{experiences}Question: {question}\n'

/** Search-R1's instruction (its `make_prefix`), with the experience slot before the question. */
export const SEARCH_R1_TEMPLATE =
  'Answer the given question. You must conduct reasoning inside <think> and </think> first every time you get new ' +
  'information. After reasoning, if you find you lack some knowledge, you can call a search engine by <search> query ' +
  '</search> and it will return the top searched results between <information> and </information>. You can search as ' +
  'many times as your want. If you find no further external knowledge needed, you can directly provide the answer ' +
  'inside <answer> and </answer>, without detailed illustrations. For example, <answer> Beijing </answer>. ' +
  '{experiences}Question: {question}\n'

export interface PromptSlots {
  question: string
  /** Rendered experience text; empty or absent leaves the slot empty. A newline is added after it when missing. */
  experiences?: string
}

// The agent's tags and chat templates' special tokens (`<|im_start|>`, `<|endoftext|>`): written inside data, they
// would read (and tokenize) as structure: a document holding `</information>` would close the block early.
const AGENT_TAG = /<(\/?(?:think|search|answer|information|experience))>/g
const SPECIAL_TOKEN = /<\|([^|<>\s]{0,64})\|>/g

/**
 * Data text (a retrieved document, an experience) made inert before it enters a prompt: each agent tag and special
 * token keeps its letters but takes single guillemets for its angle brackets (`‹/information›`, `‹|im_start|›`), so no
 * tokenizer matches it as the tag or the special token.
 */
export function inertText(text: string): string {
  return text.replace(AGENT_TAG, '‹$1›').replace(SPECIAL_TOKEN, '‹|$1|›')
}

export function renderPrompt(template: string, slots: PromptSlots): string {
  if (!template.includes('{question}')) throw new RangeError('template must contain the {question} slot')
  let exp = inertText(slots.experiences?.trim() ?? '')
  if (exp !== '') exp += '\n'
  // One pass with a function replacer: "$&" or a "{question}" inside a question or an experience is kept literally.
  return template.replace(/\{(experiences|question)\}/g, (_, slot: string) => (slot === 'question' ? slots.question : exp))
}

/** Search-R1's rendering of retrieved passages: "Doc 1(Title: …) text" per line. */
export function formatPassages(passages: readonly Passage[]): string {
  return passages
    .map((p, i) => {
      const { title, text } = splitContents(p.contents)
      return `Doc ${i + 1}(Title: ${inertText(title)}) ${inertText(text)}\n`
    })
    .join('')
}

/**
 * An experience returned by a search call (HiExp's second injection point, docs/method.md §2): one line after the documents,
 * inside the same <information> block, so that it is masked out of the loss like them.
 */
export const SEARCH_EXPERIENCE_LABEL = 'Experience:'
export function formatSearchExperience(text: string): string {
  const t = inertText(text.replace(/\s+/g, ' ').trim())
  return t === '' ? '' : `${SEARCH_EXPERIENCE_LABEL} ${t}\n`
}

export const INFO_OPEN = '\n\n<information>'
export const INFO_CLOSE = '</information>\n\n'
export const STOP_STRINGS = ['</search>', '</answer>'] as const

/** Texts a word-level tokenizer must cover besides the corpus and the questions: the template, tags, passage labels. */
export function promptVocabularyTexts(template: string = DEFAULT_TEMPLATE, topk = 5): string[] {
  const docs = Array.from({ length: topk }, (_, i) => `Doc ${i + 1}(Title: x) y`).join('\n')
  return [
    renderPrompt(template, { question: '', experiences: '' }),
    `<think> </think> <search> </search> <answer> </answer>${INFO_OPEN}${docs}${SEARCH_EXPERIENCE_LABEL} x${INFO_CLOSE}`,
  ]
}
