// The native decode loop (one native call per turn, stop strings matched on token pieces) against the step-wise
// JavaScript loop (stop strings matched on decoded text): same seed, same weights -> the same generations.
import test from 'ava'
import { Policy, tinyConfig, type Tokenizer } from '../../lib/index.js'
import { matchesLikeText, piece, tokenPieces, type PieceSource } from '../../lib/model/token_pieces.js'
import { tinyPolicy, tinyTokenizer } from './fixtures.js'
import { qwenStyleTokenizer } from './qwen_style_tokenizer.js'

function joinedPiecesMatchDecode(t: import('ava').ExecutionContext, tok: Tokenizer, texts: string[]) {
  const table = tokenPieces(tok, tok.padId)
  if (!table) return t.fail('no piece table')
  for (const text of texts) {
    const ids = tok.encode(text)
    const bytes = Buffer.concat(ids.map((id) => piece(table, id)))
    t.is(bytes.toString('utf8'), tok.decode([tok.padId, ...ids]).slice(tok.decode([tok.padId]).length), text)
  }
  t.is(table.offsets.length, tok.vocabSize + 1)
}

test('piece tables: joined pieces are the decoded text (word-level and byte-level BPE)', (t) => {
  joinedPiecesMatchDecode(t, tinyTokenizer(), ['the cat sat on the mat .', 'alice was born in paris'])
  joinedPiecesMatchDecode(t, qwenStyleTokenizer(), ['the cat saw the <search> Paris café </search>\n', 'ünïcödé ok'])
})

test('a tokenizer whose pieces do not join into its text gets no table (the step-wise loop is used)', (t) => {
  // Decodes the last token twice: a piece is then not "what the token adds".
  const odd: PieceSource = { vocabSize: 5, decode: (ids) => ids.map(String).join('') + String(ids.at(-1)) }
  t.not(odd.decode([1, 2]), odd.decode([1]) + '2')
  t.is(tokenPieces(odd), null)
})

async function both(policy: Policy, sequences: number[][], opts: Parameters<Policy['generate']>[1]) {
  policy.nativeDecode = false
  await policy.clearPrefixCache()
  const stepwise = await policy.generate(sequences, opts)
  policy.nativeDecode = true
  await policy.clearPrefixCache()
  const native = await policy.generate(sequences, opts)
  return { stepwise, native }
}

test('word-level: native and step-wise decoding give the same tokens, log-probs, finish and stop string', async (t) => {
  const p = await tinyPolicy(21, { initializerRange: 0.3 })
  const tok = p.tokenizer
  t.not(tokenPieces(tok, tok.padId), null, 'the native loop runs (not the step-wise fallback)')
  const prompts = ['the cat sat', 'a dog ran in the', 'alice was born in', 'one two three'].map((s) => tok.encode(s))
  let stopped = 0
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const opts = { maxNewTokens: 24, temperature: 1, seed, stop: ['.', 'mat', 'france'] }
    const { stepwise, native } = await both(p, prompts, opts)
    t.deepEqual(native, stepwise, `seed ${seed}`)
    stopped += native.filter((g) => g.finish === 'stop').length
  }
  t.true(stopped > 0, 'some generation ended on a stop string')
})

test('byte-level BPE: a stop string spanning tokens ends both loops at the same token', async (t) => {
  const tok = qwenStyleTokenizer()
  const p = await Policy.create({ ...tinyConfig(tok.vocabSize, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 }), initializerRange: 0.3 }, tok, { seed: 5 })
  t.not(tokenPieces(tok, tok.padId), null, 'the native loop runs (not the step-wise fallback)')
  const prompts = ['the cat saw the', 'the <search>', 'x'].map((s) => tok.encode(s))
  const free = await p.generate(prompts, { maxNewTokens: 16, temperature: 0 })
  // Stop strings that straddle a token boundary of the greedy generations.
  const stops = free.map((g) => tok.decode(g.tokens.slice(0, 4)).slice(-2)).filter((s) => s.length === 2 && !/^\s/.test(s))
  t.true(stops.length > 0)
  for (const temperature of [0, 1]) {
    const { stepwise, native } = await both(p, prompts, { maxNewTokens: 16, temperature, seed: 9, stop: stops })
    t.deepEqual(native, stepwise, `temperature ${temperature}`)
  }
  const { native } = await both(p, prompts, { maxNewTokens: 16, temperature: 0, stop: stops })
  t.true(native.some((g) => g.finish === 'stop'))
})

test('native decoding resumes from the prefix cache as the step-wise loop does', async (t) => {
  const p = await tinyPolicy(22, { initializerRange: 0.3 })
  const tok = p.tokenizer
  const prompts = ['the cat', 'bob wrote'].map((s) => tok.encode(s))
  const run = async (nativeDecode: boolean) => {
    p.nativeDecode = nativeDecode
    await p.clearPrefixCache()
    const first = await p.generate(prompts, { maxNewTokens: 6, seed: 3, stop: ['.'] })
    // The agent appends text after each generation; the second call extends every sequence of the first.
    const next = prompts.map((s, i) => [...s, ...first[i].tokens, ...tok.encode('the park')])
    const second = await p.generate(next, { maxNewTokens: 6, seed: 4, stop: ['.'] })
    return { first, second, resumed: p.lastPrefill.resumed }
  }
  const stepwise = await run(false)
  const native = await run(true)
  t.true(native.resumed)
  t.deepEqual(native, stepwise)
})

test('generateDecode refuses stop strings without a piece table and an empty stop string, naming the option', async (t) => {
  const p = await tinyPolicy(23)
  const n = (await import('../../lib/native/loader.js')).native()
  const handle = (p as unknown as { handle: import('../../lib/native/binding.js').PolicyHandle }).handle
  const start = await n.generateStart(handle, Int32Array.from([1, 2]), Int32Array.from([2]), { maxNewTokens: 4 })
  t.throws(() => n.generateDecode(start.session, handle, { maxNewTokens: 4, stops: [''], window: 2 }), { message: /options\.stops\[0\] is empty/ })
  t.throws(() => n.generateDecode(start.session, handle, { maxNewTokens: 4, stops: ['x'], window: 0 }), { message: /options\.window must be at least 1/ })
  const other = await tinyPolicy(24)
  const otherHandle = (other as unknown as { handle: import('../../lib/native/binding.js').PolicyHandle }).handle
  t.throws(() => n.generateDecode(start.session, otherHandle, { maxNewTokens: 4, stops: ['x'], window: 3 }), { message: /policySetPieces/ })
  await n.generateEnd(start.session, false)
})

test('the generated world’s tokenizer decodes natively with the agent’s stop strings', async (t) => {
  const { generateWorld, worldTexts } = await import('../../lib/env/world.js')
  const { DEFAULT_TEMPLATE, promptVocabularyTexts, STOP_STRINGS } = await import('../../lib/agent/prompt.js')
  const { Tokenizer } = await import('../../lib/index.js')
  const world = generateWorld({ seed: 3 })
  // An apostrophe token: transformers' space clean-up turns " ' " into "'", so joined pieces differ from text there.
  const tok = Tokenizer.wordLevel([...worldTexts(world), ...promptVocabularyTexts(DEFAULT_TEMPLATE, 3), "the director ' s film"])
  const table = tokenPieces(tok, tok.padId)
  if (!table) return t.fail('no piece table')
  t.false(table.exact)
  t.true(STOP_STRINGS.every((s) => matchesLikeText(table, s)))
  t.false(matchesLikeText(table, 'born .'), 'a stop string with a space is matched on text')
  t.false(matchesLikeText(table, "x's"), 'a stop string with a character before which spaces are dropped is matched on text')
  const p = await Policy.create({ ...tinyConfig(tok.vocabSize, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 }), initializerRange: 0.3 }, tok, { seed: 8 })
  const prompts = world.questions.train.slice(0, 6).map((q) => tok.encode(q.question))
  let stopped = 0
  for (const seed of [1, 2, 3]) {
    const { stepwise, native } = await both(p, prompts, { maxNewTokens: 40, temperature: 1, seed, stop: [...STOP_STRINGS] })
    t.deepEqual(native, stepwise, `seed ${seed}`)
    stopped += native.filter((g) => g.finish === 'stop').length
  }
  t.true(stopped > 0, 'some generation ended on </search> or </answer>')
})
