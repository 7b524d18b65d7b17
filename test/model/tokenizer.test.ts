import test from 'ava'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Tokenizer, WORD_LEVEL_SPECIAL_TOKENS, buildWordLevelTokenizer, wordLevelTokenizerConfig } from '../../lib/index.js'
import { CORPUS, tempDir } from './fixtures.js'

test('buildWordLevelTokenizer gives a tokenizer.json with the special tokens first and deterministic ids', (t) => {
  const a = buildWordLevelTokenizer(CORPUS)
  const b = buildWordLevelTokenizer([...CORPUS])
  t.deepEqual(a, b)
  const model = a.model as { type: string; vocab: Record<string, number>; unk_token: string }
  t.is(model.type, 'WordLevel')
  WORD_LEVEL_SPECIAL_TOKENS.forEach((s, i) => t.is(model.vocab[s], i))
  for (const s of ['<search>', '</search>', '<information>', '</information>', '<answer>', '</answer>', '<experience>', '</experience>', '<|endoftext|>', '<pad>', '<unk>']) {
    t.true(s in model.vocab, s)
  }
  // '.' and 'the' are the most frequent words (4 each; ties go alphabetically): the first ids after the special tokens.
  t.is(model.vocab['.'], WORD_LEVEL_SPECIAL_TOKENS.length)
  t.is(model.vocab.the, WORD_LEVEL_SPECIAL_TOKENS.length + 1)
})

test('encode / decode round-trip words, punctuation and tags; unknown words become <unk>', (t) => {
  const tok = Tokenizer.wordLevel(CORPUS)
  const text = 'the cat sat <search> alice paris </search> <answer> france </answer>'
  const ids = tok.encode(text)
  t.is(tok.decode(ids), text)
  t.is(tok.idOf('<search>'), 3)
  t.deepEqual(tok.encode('the zebra'), [tok.idOf('the')!, tok.idOf('<unk>')!])
  t.deepEqual(tok.encode('the cat.'), [tok.idOf('the')!, tok.idOf('cat')!, tok.idOf('.')!])
  t.is(tok.eosId, tok.idOf('<|endoftext|>')!)
  t.is(tok.padId, 0)
  t.is(tok.decode([tok.idOf('cat')!, tok.eosId], { skipSpecialTokens: true }), 'cat')
})

test('maxVocab and minCount bound the vocabulary', (t) => {
  const tok = Tokenizer.wordLevel(CORPUS, { maxVocab: WORD_LEVEL_SPECIAL_TOKENS.length + 3 })
  t.is(tok.vocabSize, WORD_LEVEL_SPECIAL_TOKENS.length + 3)
  const frequent = Tokenizer.wordLevel(CORPUS, { minCount: 2 })
  t.truthy(frequent.idOf('the'))
  t.is(frequent.idOf('alice'), undefined)
})

test('Tokenizer.fromDir reads tokenizer.json, tokenizer_config.json and generation_config.json', async (t) => {
  const dir = tempDir()
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(buildWordLevelTokenizer(CORPUS)))
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(wordLevelTokenizerConfig()))
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 4] }))
  const tok = await Tokenizer.fromDir(dir)
  t.is(tok.eosId, 2)
  t.deepEqual(tok.eosIds, [2, 4])
  t.is(tok.decode(tok.encode('a dog ran')), 'a dog ran')
  const empty = join(dir, 'none')
  mkdirSync(empty)
  await t.throwsAsync(Tokenizer.fromDir(empty), { message: /tokenizer\.json is missing/ })
})

test('the chat template renders through @huggingface/jinja', (t) => {
  const tok = Tokenizer.wordLevel(CORPUS)
  const text = tok.applyChatTemplate([{ role: 'user', content: 'where was alice born ?' }], { addGenerationPrompt: true })
  t.is(text, 'user : where was alice born ? <|endoftext|> assistant : ')
  // A Qwen-style template (the ChatML form of Qwen2.5's tokenizer_config.json, abridged).
  const qwen = new Tokenizer(buildWordLevelTokenizer(CORPUS), {
    eos_token: '<|endoftext|>',
    chat_template:
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  })
  t.is(
    qwen.applyChatTemplate([{ role: 'system', content: 'S' }, { role: 'user', content: 'U' }], { addGenerationPrompt: true }),
    '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n',
  )
})
