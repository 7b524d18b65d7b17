import test from 'ava'
import { maxAbsDiff, tinyPolicy } from './fixtures.js'

const PROMPTS = [
  [13, 14, 20, 21],
  [15, 16],
  [22, 23, 24, 25, 26, 27, 13],
]

function argmax(row: Float32Array, from: number, V: number): number {
  let best = 0
  for (let v = 1; v < V; v++) if (row[from + v] > row[from + best]) best = v
  return best
}

test('KV-cache generation equals full-recompute scoring token for token (greedy)', async (t) => {
  const p = await tinyPolicy(11)
  const V = p.config.vocabSize
  const gens = await p.generate(PROMPTS, { maxNewTokens: 12, temperature: 0 })
  const full = PROMPTS.map((s, i) => [...s, ...gens[i].tokens])
  const logits = await p.logits(full)
  const scored = await p.score(full)
  gens.forEach((g, i) => {
    t.true(g.tokens.length >= 1)
    g.tokens.forEach((tok, k) => {
      const pos = PROMPTS[i].length + k
      // Greedy token = argmax of the full recompute's logits at the previous position.
      t.is(tok, argmax(logits[i], (pos - 1) * V, V), `sequence ${i}, new token ${k}`)
    })
    const tail = Array.from(scored.logprobs[i].slice(PROMPTS[i].length))
    t.true(maxAbsDiff(g.logprobs, tail) < 1e-4, `sequence ${i}: ${g.logprobs} vs ${tail}`)
  })
})

test('sampling with a seed is reproducible; another seed differs', async (t) => {
  const p = await tinyPolicy(12, { initializerRange: 0.05 })
  const opts = { maxNewTokens: 16, temperature: 1, seed: 42 }
  const a = await p.generate(PROMPTS, opts)
  const b = await p.generate(PROMPTS, opts)
  t.deepEqual(a, b)
  const c = await p.generate(PROMPTS, { ...opts, seed: 43 })
  t.notDeepEqual(a.map((g) => g.tokens), c.map((g) => g.tokens))
})

test('log-probs of sampled tokens equal the scoring pass (temperature, top-p, top-k change sampling only)', async (t) => {
  const p = await tinyPolicy(13, { initializerRange: 0.05 })
  for (const opts of [{ temperature: 1 }, { temperature: 0.7, topP: 0.9 }, { temperature: 1.3, topK: 5 }]) {
    const gens = await p.generate(PROMPTS, { maxNewTokens: 10, seed: 7, ...opts })
    const scored = await p.score(PROMPTS.map((s, i) => [...s, ...gens[i].tokens]))
    gens.forEach((g, i) => {
      t.true(maxAbsDiff(g.logprobs, scored.logprobs[i].slice(PROMPTS[i].length)) < 1e-4, JSON.stringify(opts))
    })
  }
})

test('topK 1 is greedy; topP keeps sampling inside the nucleus', async (t) => {
  const p = await tinyPolicy(14, { initializerRange: 0.05 })
  const greedy = await p.generate(PROMPTS, { maxNewTokens: 8, temperature: 0 })
  const k1 = await p.generate(PROMPTS, { maxNewTokens: 8, topK: 1, seed: 3 })
  t.deepEqual(k1.map((g) => g.tokens), greedy.map((g) => g.tokens))
  const tiny = await p.generate(PROMPTS, { maxNewTokens: 8, topP: 1e-6, seed: 9 })
  t.deepEqual(tiny.map((g) => g.tokens), greedy.map((g) => g.tokens))
})

test('a sequence generates the same tokens alone as in a batch of different lengths', async (t) => {
  const p = await tinyPolicy(15)
  const batch = await p.generate(PROMPTS, { maxNewTokens: 10, temperature: 0 })
  for (let i = 0; i < PROMPTS.length; i++) {
    const [alone] = await p.generate([PROMPTS[i]], { maxNewTokens: 10, temperature: 0 })
    t.deepEqual(alone.tokens, batch[i].tokens)
    t.true(maxAbsDiff(alone.logprobs, batch[i].logprobs) < 1e-4)
  }
})

test('stop strings end each sequence separately and stay in tokens and text', async (t) => {
  const p = await tinyPolicy(16, { initializerRange: 0.05 })
  const tok = p.tokenizer
  // Find the first greedy tokens of each prompt, and stop on the word the first sequence produces third.
  const free = await p.generate(PROMPTS, { maxNewTokens: 6, temperature: 0 })
  const word = tok.decode([free[0].tokens[2]])
  const stopped = await p.generate(PROMPTS, { maxNewTokens: 6, temperature: 0, stop: [word] })
  const g = stopped[0]
  t.is(g.finish, 'stop')
  t.is(g.stopString, word)
  t.true(g.text.endsWith(word))
  t.true(g.tokens.length <= 3)
  t.deepEqual(g.tokens, free[0].tokens.slice(0, g.tokens.length))
  for (let i = 1; i < PROMPTS.length; i++) {
    const s = stopped[i]
    if (s.finish === 'stop') t.true(s.text.includes(word))
    else t.deepEqual(s.tokens, free[i].tokens)
    t.is(s.tokens.length, s.logprobs.length)
  }
  if (free[0].finish === 'length') t.is(free[0].tokens.length, 6)
})

test('generation resumes after text is appended (the agent’s <information> turn)', async (t) => {
  const p = await tinyPolicy(17)
  const tok = p.tokenizer
  const prompt = tok.encode('alice was born in')
  const first = await p.generate([prompt], { maxNewTokens: 4, temperature: 0 })
  const resumed = [...prompt, ...first[0].tokens, ...tok.encode('<information> paris , the capital of france </information>')]
  const [second] = await p.generate([resumed], { maxNewTokens: 5, temperature: 0 })
  const scored = await p.score([[...resumed, ...second.tokens]])
  t.true(maxAbsDiff(second.logprobs, scored.logprobs[0].slice(resumed.length)) < 1e-4)
})

test('bad generate arguments are named', async (t) => {
  const p = await tinyPolicy(18)
  await t.throwsAsync(p.generate([[1, 2]], { maxNewTokens: 0 }), { instanceOf: RangeError, message: /maxNewTokens/ })
  await t.throwsAsync(p.generate([[1, 9999]], { maxNewTokens: 2 }), { instanceOf: RangeError, message: /token id 9999 outside the vocabulary/ })
  await t.throwsAsync(p.generate([[]], { maxNewTokens: 2 }), { instanceOf: RangeError, message: /sequences\[0\] is empty/ })
  await t.throwsAsync(p.generate([[1]], { maxNewTokens: 2, topP: 0 }), { instanceOf: RangeError, message: /topP must be in \(0, 1\]/ })
  await t.throwsAsync(p.generate([[1]], { maxNewTokens: 2, temperature: -1 }), { instanceOf: RangeError, message: /temperature/ })
  t.deepEqual(await p.generate([], { maxNewTokens: 2 }), [])
})

test('EOS ends a sequence and is kept in tokens but not in text', async (t) => {
  const p = await tinyPolicy(19)
  const free = await p.generate(PROMPTS, { maxNewTokens: 6, temperature: 0 })
  // Pretend the token the first prompt produces second is EOS: the same tokens, cut after it.
  const eosToken = free[0].tokens[1]
  ;(p.tokenizer.eosIds as number[]).push(eosToken)
  try {
    const [g] = await p.generate([PROMPTS[0]], { maxNewTokens: 6, temperature: 0 })
    const cut = free[0].tokens.indexOf(eosToken) + 1
    t.is(g.finish, 'eos')
    t.deepEqual(g.tokens, free[0].tokens.slice(0, cut))
    t.is(g.text, p.tokenizer.decode(g.tokens.slice(0, -1)))
  } finally {
    ;(p.tokenizer.eosIds as number[]).pop()
  }
})

test('resuming from the prefix cache gives what a fresh prefill gives', async (t) => {
  const p = await tinyPolicy(20)
  const tok = p.tokenizer
  const info = tok.encode('<information> paris , the capital of france </information>')
  for (const temperature of [0, 1]) {
    const opts = { maxNewTokens: 6, temperature, seed: 4, stop: [tok.decode([13])] }
    const first = await p.generate(PROMPTS, opts)
    // Only some sequences continue, in another order, each with a different appended text.
    const picks = [2, 0]
    const longer = picks.map((i, k) => [...PROMPTS[i], ...first[i].tokens, ...info.slice(0, 4 + 3 * k)])
    const cached = await p.generate(longer, opts)
    t.deepEqual(p.lastPrefill, { resumed: true, tokens: picks.reduce((a, _, k) => a + 1 + 4 + 3 * k, 0) })
    p.prefixCache = false
    await p.clearPrefixCache()
    const fresh = await p.generate(longer, opts)
    t.false(p.lastPrefill.resumed)
    p.prefixCache = true
    cached.forEach((g, k) => {
      t.deepEqual(g.tokens, fresh[k].tokens, `temperature ${temperature}, row ${k}`)
      t.true(maxAbsDiff(g.logprobs, fresh[k].logprobs) < 1e-4)
    })
    // A third turn resumes the resumed session.
    const third = longer.map((s, k) => [...s, ...cached[k].tokens, ...info.slice(0, 2)])
    await p.clearPrefixCache()
    const again = await p.generate(longer, opts)
    const cached3 = await p.generate(third, opts)
    t.true(p.lastPrefill.resumed)
    p.prefixCache = false
    const fresh3 = await p.generate(third, opts)
    p.prefixCache = true
    t.deepEqual(again.map((g) => g.tokens), cached.map((g) => g.tokens))
    cached3.forEach((g, k) => {
      t.deepEqual(g.tokens, fresh3[k].tokens)
      t.true(maxAbsDiff(g.logprobs, fresh3[k].logprobs) < 1e-4)
    })
  }
})

test('identical prompts (a group of rollouts) are prefilled once yet sample independently, each as it would alone', async (t) => {
  const p = await tinyPolicy(15, { initializerRange: 0.05 })
  const group = [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[0], PROMPTS[2], PROMPTS[1]]
  const greedyAlone = await Promise.all(PROMPTS.map(async (s) => (await p.generate([s], { maxNewTokens: 8, temperature: 0 }))[0].tokens))
  const greedy = await p.generate(group, { maxNewTokens: 8, temperature: 0 })
  t.is(p.lastPrefill.tokens, group.reduce((a, s) => a + s.length, 0))
  greedy.forEach((g, i) => t.deepEqual(g.tokens, greedyAlone[PROMPTS.indexOf(group[i])], `row ${i}`))
  p.sharePrompts = false
  const unshared = await p.generate(group, { maxNewTokens: 12, temperature: 1.5, seed: 4 })
  p.sharePrompts = true
  const sampled = await p.generate(group, { maxNewTokens: 12, temperature: 1.5, seed: 4 })
  t.notDeepEqual(sampled[0].tokens, sampled[2].tokens, 'copies of one prompt draw their own tokens')
  t.deepEqual(sampled.map((g) => g.tokens), unshared.map((g) => g.tokens), 'the same draws as prefilling every row')
  const scored = await p.score(group.map((s, i) => [...s, ...sampled[i].tokens]))
  sampled.forEach((g, i) => t.true(maxAbsDiff(g.logprobs, scored.logprobs[i].slice(group[i].length)) < 1e-4, `row ${i}`))
})

test('prefills too large for one attention slice (many rows, long prompts) run in row slices and equal the scoring pass', async (t) => {
  // 40 rows x 4 heads x 300 x ~300 float scores is about 58 MB, over the 32 MB slice budget of Qwen2::hidden: two
  // slices for the prompts, more for the 300-token resume below. Each row's log-probs must still be the scoring pass's.
  const p = await tinyPolicy(19)
  const V = p.config.vocabSize
  let state = 12345
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31)
  const randomTokens = (n: number) => Array.from({ length: n }, () => 3 + (next() % (V - 3)))
  const prompts = Array.from({ length: 40 }, (_, i) => randomTokens(280 + (i % 7) * 3))
  const first = await p.generate(prompts, { maxNewTokens: 3, temperature: 1, seed: 5 })
  const firstScored = await p.score(prompts.map((s, i) => [...s, ...first[i].tokens]))
  first.forEach((g, i) => t.true(maxAbsDiff(g.logprobs, firstScored.logprobs[i].slice(prompts[i].length)) < 1e-4, `prompt row ${i}`))
  const resumed = prompts.map((s, i) => [...s, ...first[i].tokens, ...randomTokens(300)])
  const second = await p.generate(resumed, { maxNewTokens: 3, temperature: 1, seed: 6 })
  const scored = await p.score(resumed.map((s, i) => [...s, ...second[i].tokens]))
  second.forEach((g, i) => t.true(maxAbsDiff(g.logprobs, scored.logprobs[i].slice(resumed[i].length)) < 1e-4, `resumed row ${i}`))
})
