// The Qwen2 tokenizer.json form (byte-level BPE, Qwen2's split regex, added special tokens) through the same loader as
// the word-level default: a tiny hand-made vocabulary stands in for the 151k-entry file.
import test from 'ava'
import { Policy, tinyConfig } from '../../lib/index.js'
import { qwenStyleTokenizer } from './qwen_style_tokenizer.js'

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
