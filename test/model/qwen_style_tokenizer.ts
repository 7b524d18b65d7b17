// A Qwen2-form tokenizer.json (byte-level BPE, Qwen2's split regex, added special tokens) with a tiny hand-made
// vocabulary standing in for the 151k-entry file.
import { Tokenizer } from '../../lib/index.js'

// GPT-2's bytes_to_unicode: every byte maps to a printable character.
function byteChars(): string[] {
  const printable: number[] = []
  for (let b = 33; b <= 126; b++) printable.push(b)
  for (let b = 161; b <= 172; b++) printable.push(b)
  for (let b = 174; b <= 255; b++) printable.push(b)
  const chars = new Array<string>(256)
  let extra = 0
  for (let b = 0; b < 256; b++) chars[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++)
  return chars
}

const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/** `config`: a tokenizer_config.json (default: Qwen's special tokens, no chat template). */
export function qwenStyleTokenizer(config: Record<string, unknown> = { eos_token: '<|im_end|>', pad_token: '<|endoftext|>', bos_token: null }): Tokenizer {
  const chars = byteChars()
  const vocab: Record<string, number> = {}
  chars.forEach((c, i) => (vocab[c] = i))
  const merges: string[] = []
  const add = (a: string, b: string) => {
    merges.push(`${a} ${b}`)
    vocab[a + b] = Object.keys(vocab).length
  }
  const space = chars[32]
  add('t', 'h')
  add('th', 'e')
  add(space, 'the')
  add('<', '/')
  add('s', 'e')
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
  const base = Object.keys(vocab).length
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, i) => ({ id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  }
  return new Tokenizer(json, config, [base])
}
