// Hugging Face tokenizer.json through @huggingface/tokenizers (pure JS, offline), chat templates through
// @huggingface/jinja. hiexp's embedded word-level tokenizer is itself a tokenizer.json, read by the same code path as a
// real Qwen tokenizer.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Template } from '@huggingface/jinja'
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers'
import { readJsonFile } from '../util/json_file.js'
import { renderChatTemplate } from './chat_template.js'
import { checkRegexFields } from './regex_check.js'
import type { TokenizerLike } from './generation.js'

/** Special tokens of the embedded word-level tokenizer, in id order (so '<pad>' is 0). */
export const WORD_LEVEL_SPECIAL_TOKENS = [
  '<pad>',
  '<unk>',
  '<|endoftext|>',
  '<search>',
  '</search>',
  '<information>',
  '</information>',
  '<answer>',
  '</answer>',
  '<experience>',
  '</experience>',
  '<think>',
  '</think>',
] as const

export interface WordLevelOptions {
  /** Keep words seen at least this often (default 1). */
  minCount?: number
  /** Vocabulary size cap, special tokens included (default: no cap); the most frequent words are kept. */
  maxVocab?: number
  /** Lower-case text before splitting (default false). */
  lowercase?: boolean
  /** Split numbers into single digits (default false: decode joins tokens with spaces, so '1 2' would not read '12'). */
  splitDigits?: boolean
  /** More special tokens, appended after the built-in ones. */
  extraSpecialTokens?: string[]
}

export type TokenizerJson = Record<string, unknown>

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }
}

function wordLevelJson(vocab: Record<string, number>, specials: string[], opts: WordLevelOptions): TokenizerJson {
  const pre: unknown[] = [{ type: 'BertPreTokenizer' }]
  if (opts.splitDigits) pre.push({ type: 'Digits', individual_digits: true })
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s, i) => addedToken(i, s)),
    normalizer: opts.lowercase ? { type: 'Lowercase' } : null,
    pre_tokenizer: pre.length === 1 ? pre[0] : { type: 'Sequence', pretokenizers: pre },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  }
}

/**
 * Builds a word-level tokenizer.json (Hugging Face format: WordLevel model, BERT whitespace/punctuation
 * pre-tokenizer, hiexp's special tokens as added tokens) from a corpus. Words are numbered after the special tokens by
 * decreasing frequency, ties alphabetically, so the same corpus always gives the same ids.
 */
export function buildWordLevelTokenizer(texts: string[], opts: WordLevelOptions = {}): TokenizerJson {
  const specials = [...WORD_LEVEL_SPECIAL_TOKENS, ...(opts.extraSpecialTokens ?? [])]
  if (new Set(specials).size !== specials.length) throw new RangeError('extraSpecialTokens repeats a special token')
  // Pre-tokenize with the very tokenizer the vocabulary is for, so that building and encoding split text alike.
  const skeleton = new HfTokenizer(wordLevelJson({ '<unk>': 0 }, specials, opts), { unk_token: '<unk>' })
  const counts = new Map<string, number>()
  const specialSet = new Set<string>(specials)
  for (const text of texts) {
    for (const piece of skeleton.tokenize(text)) {
      if (!specialSet.has(piece)) counts.set(piece, (counts.get(piece) ?? 0) + 1)
    }
  }
  const minCount = opts.minCount ?? 1
  const words = [...counts.entries()]
    .filter(([, n]) => n >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w]) => w)
  const room = opts.maxVocab === undefined ? words.length : Math.max(0, opts.maxVocab - specials.length)
  const vocab: Record<string, number> = {}
  specials.forEach((s, i) => (vocab[s] = i))
  words.slice(0, room).forEach((w, i) => (vocab[w] = specials.length + i))
  return wordLevelJson(vocab, specials, opts)
}

/** tokenizer_config.json for the word-level tokenizer (eos/pad/unk, and a plain chat template). */
export function wordLevelTokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    eos_token: '<|endoftext|>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    clean_up_tokenization_spaces: true,
    chat_template:
      "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} <|endoftext|> {% endfor %}" +
      "{% if add_generation_prompt %}assistant : {% endif %}",
  }
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string
  content: string
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content
  return undefined
}

/** A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) with the interface the agent loop needs. */
export class Tokenizer implements TokenizerLike {
  readonly eosId: number
  /** Every id that ends generation (eosId first; e.g. Qwen instruct's <|im_end|> and <|endoftext|>). */
  readonly eosIds: number[]
  readonly padId: number
  readonly vocabSize: number
  private readonly hf: HfTokenizer
  private readonly template?: Template

  constructor(readonly json: TokenizerJson, readonly config: Record<string, unknown> = {}, extraEosIds: number[] = []) {
    try {
      this.hf = new HfTokenizer(json, config)
    } catch (error) {
      throw new TypeError(`tokenizer.json could not be read: ${error instanceof Error ? error.message : String(error)}`)
    }
    const vocab = this.hf.get_vocab(true)
    let maxId = -1
    for (const id of vocab.values()) maxId = Math.max(maxId, id)
    this.vocabSize = maxId + 1
    const find = (...names: (string | undefined)[]) => {
      for (const n of names) if (n !== undefined && vocab.has(n)) return vocab.get(n)!
      return undefined
    }
    const eos = find(tokenText(config.eos_token), '<|endoftext|>', '</s>', '<|im_end|>')
    if (eos === undefined) throw new RangeError('tokenizer: no EOS token (tokenizer_config.eos_token, <|endoftext|> or </s>)')
    this.eosId = eos
    this.eosIds = [...new Set([eos, ...extraEosIds])]
    this.padId = find(tokenText(config.pad_token), '<pad>', '<|endoftext|>') ?? eos
    if (typeof config.chat_template === 'string') this.template = new Template(config.chat_template)
  }

  /** Reads tokenizer.json (required), tokenizer_config.json and generation_config.json (EOS ids) from a folder. */
  static async fromDir(dir: string): Promise<Tokenizer> {
    const path = join(dir, 'tokenizer.json')
    if (!existsSync(path)) throw new Error(`tokenizer: ${path} is missing`)
    const json = (await readJsonFile(path)) as TokenizerJson
    await checkRegexFields(json, path) // a pattern that backtracks forever is refused before any text is encoded
    const configPath = join(dir, 'tokenizer_config.json')
    const config = existsSync(configPath) ? ((await readJsonFile(configPath)) as Record<string, unknown>) : {}
    const genPath = join(dir, 'generation_config.json')
    let extra: number[] = []
    if (existsSync(genPath)) {
      const gen = (await readJsonFile(genPath)) as { eos_token_id?: number | number[] }
      if (gen.eos_token_id !== undefined) extra = Array.isArray(gen.eos_token_id) ? gen.eos_token_id : [gen.eos_token_id]
    }
    return new Tokenizer(json, config, extra)
  }

  /** The word-level default: a tokenizer.json from buildWordLevelTokenizer with its tokenizer_config. */
  static wordLevel(texts: string[], opts: WordLevelOptions = {}): Tokenizer {
    return new Tokenizer(buildWordLevelTokenizer(texts, opts), wordLevelTokenizerConfig())
  }

  /** Token ids of the text exactly (no BOS/EOS added). */
  encode(text: string): number[] {
    const encoding = this.hf.encode(text, { add_special_tokens: false })
    const ids = encoding.ids
    // A model without an unknown token (a Unigram without unk_id) gives null for a piece it cannot spell; generate
    // would read null as id 0. Refused, naming the piece.
    for (let i = 0; i < ids.length; i++) {
      if (!Number.isInteger(ids[i])) {
        throw new RangeError(
          `tokenizer: ${JSON.stringify(encoding.tokens?.[i] ?? '?')} (piece ${i} of the text) has no token id, and the tokenizer has no unknown token to map it to ` +
            '(tokenizer.json model.unk_id / unk_token)',
        )
      }
    }
    return ids
  }

  /** Text of the ids; special tokens (the agent's tags) are kept unless skipSpecialTokens. */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''
    return this.hf.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false })
  }

  idOf(token: string): number | undefined {
    return this.hf.token_to_id(token)
  }

  tokenOf(id: number): string | undefined {
    return this.hf.id_to_token(id)
  }

  /** tokenizer_config.json has a chat_template. */
  get hasChatTemplate(): boolean {
    return this.template !== undefined
  }

  /** Renders tokenizer_config.json's chat_template (Jinja) as transformers' apply_chat_template(tokenize=False). */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; [k: string]: unknown } = {}): string {
    if (!this.template) throw new Error('tokenizer: tokenizer_config.json has no chat_template')
    const { addGenerationPrompt = false, ...rest } = opts
    return renderChatTemplate(this.template, {
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokenText(this.config.bos_token) ?? '',
      eos_token: tokenText(this.config.eos_token) ?? '',
      pad_token: tokenText(this.config.pad_token) ?? '',
      unk_token: tokenText(this.config.unk_token) ?? '',
      ...rest,
    })
  }
}
