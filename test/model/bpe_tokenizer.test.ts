// The Qwen2 tokenizer.json form (byte-level BPE, Qwen2's split regex, added special tokens) through the same loader as
// the word-level default: a tiny hand-made vocabulary stands in for the 151k-entry file.
import test from 'ava'
import { Policy, Tokenizer, tinyConfig } from '../../lib/index.js'

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

function qwenStyleTokenizer(): Tokenizer {
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
  return new Tokenizer(json, { eos_token: '<|im_end|>', pad_token: '<|endoftext|>', bos_token: null }, [base])
}

test('a Qwen2-form byte-level BPE tokenizer.json loads through the same path and round-trips text', (t) => {
  const tok = qwenStyleTokenizer()
  const text = 'the cat saw the <search> Paris café </search>\n'
  const ids = tok.encode(text)
  t.is(tok.decode(ids), text)
  t.true(ids.includes(tok.idOf('Ġthe')!)) // the merge 'Ġ' + 'the' applied
  t.is(tok.eosId, tok.idOf('<|im_end|>')!)
  t.deepEqual(tok.eosIds, [tok.idOf('<|im_end|>')!, tok.idOf('<|endoftext|>')!])
  t.is(tok.padId, tok.idOf('<|endoftext|>')!)
  // '</search>' is several BPE tokens here, as in Qwen's real vocabulary.
  t.true(tok.encode('</search>').length > 1)
})

test('a stop string spanning several BPE tokens ends generation at the token that completes it', async (t) => {
  const tok = qwenStyleTokenizer()
  const policy = await Policy.create({ ...tinyConfig(tok.vocabSize, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 }), initializerRange: 0.3 }, tok, { seed: 3 })
  const prompt = tok.encode('the cat saw the')
  const [free] = await policy.generate([prompt], { maxNewTokens: 12, temperature: 0 })
  // Choose a stop string that straddles tokens 3 and 4 of the free generation (when their text allows one).
  const head = tok.decode(free.tokens.slice(0, 3))
  const through4 = tok.decode(free.tokens.slice(0, 4))
  const stop = through4.slice(Math.max(0, head.length - 1))
  t.true(stop.length >= 2)
  const [g] = await policy.generate([prompt], { maxNewTokens: 12, temperature: 0, stop: [stop] })
  t.is(g.finish, 'stop')
  t.true(g.text.includes(stop))
  t.true(g.tokens.length <= 4)
  t.deepEqual(g.tokens, free.tokens.slice(0, g.tokens.length))
})
