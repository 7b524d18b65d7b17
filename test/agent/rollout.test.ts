import test from 'ava'
import { DEFAULT_TEMPLATE, INFO_CLOSE, INFO_OPEN, renderPrompt } from '../../lib/agent/prompt.js'
import { experienceFree, packRollouts, runRollouts, trajectoryText, withPrompt, type Rollout } from '../../lib/agent/rollout.js'
import { byQuestion, FixedRetriever, lp, ScriptedPolicy } from './helpers.js'

const TEMPLATE = '{experiences}Question: {question}'
const Q = 'Where was Alda Voss born?'
const ALDA = { id: 'p7', contents: 'Alda Voss\nAlda Voss was born in Kelmar.' }
const retriever = () => new FixedRetriever(() => [ALDA, { id: 'p9', contents: 'Brin Voss\nBrin Voss is a painter.' }])
const ones = (n: number) => '1'.repeat(n)
const zeros = (n: number) => '0'.repeat(n)
const maskString = (r: Rollout) => r.mask.join('')

/** Every token's log-probability: the policy's where generated, 0 where inserted. */
function checkAlignment(t: import('ava').ExecutionContext, r: Rollout) {
  t.is(r.mask.length, r.tokens.length)
  t.is(r.logprobs.length, r.tokens.length)
  r.tokens.forEach((id, j) => t.is(r.logprobs[j], r.mask[j] ? Math.fround(lp(id)) : 0))
  t.is(r.responseTokens, r.mask.reduce((s, m) => s + m, 0))
}

test('well-formed: search, information, answer — exact tokens, mask and log-probabilities', async (t) => {
  const policy = new ScriptedPolicy(byQuestion({ [Q]: ['<search> Alda Voss </search>', '<answer> Kelmar </answer>'] }))
  const r = retriever()
  const { rollouts, timing } = await runRollouts(policy, r, [{ question: Q }], { template: TEMPLATE, topk: 1 })
  const [ro] = rollouts
  const tok = policy.tokenizer
  const info = `${INFO_OPEN}Doc 1(Title: Alda Voss) Alda Voss was born in Kelmar.\n${INFO_CLOSE}`
  // prompt 6 words | turn 1: 4 | information: 11 words (split on whitespace) | turn 2: 3
  t.deepEqual(tok.decode(ro.tokens).split(' '), [
    'Question:', 'Where', 'was', 'Alda', 'Voss', 'born?',
    '<search>', 'Alda', 'Voss', '</search>',
    '<information>Doc', '1(Title:', 'Alda', 'Voss)', 'Alda', 'Voss', 'was', 'born', 'in', 'Kelmar.', '</information>',
    '<answer>', 'Kelmar', '</answer>',
  ])
  t.is(maskString(ro), zeros(6) + ones(4) + zeros(11) + ones(3))
  checkAlignment(t, ro)
  t.is(ro.promptLength, 6)
  t.is(ro.finish, 'answer')
  t.is(ro.answer, 'Kelmar')
  t.deepEqual(ro.queries, ['Alda Voss'])
  t.is(ro.searchCalls, 1)
  t.is(ro.responseTokens, 7)
  t.is(ro.formatError, undefined)
  t.deepEqual(
    ro.turns.map((x) => [x.action, x.query, x.passageIds, x.span, x.infoSpan, x.wellFormed]),
    [
      ['search', 'Alda Voss', ['p7'], [6, 10], [10, 21], true],
      ['answer', undefined, undefined, [21, 24], undefined, true],
    ],
  )
  t.is(ro.turns[0].information, info)
  t.is(trajectoryText(ro), `Question: ${Q}<search> Alda Voss </search>${info}<answer> Kelmar </answer>`)
  t.deepEqual(r.calls, [{ queries: ['Alda Voss'], topk: 1 }])
  t.is(timing.generateCalls, 2)
  t.is(timing.retrieveCalls, 1)
  // The policy saw exactly the assembled sequence at each turn, with the stop strings and the turn budget.
  t.deepEqual(policy.calls.map((c) => c.sequences), [[tok.decode(ro.tokens.slice(0, 6))], [tok.decode(ro.tokens.slice(0, 21))]])
  t.deepEqual(policy.calls[0].opts.stop, ['</search>', '</answer>'])
  t.is(policy.calls[0].opts.maxNewTokens, 64)
})

test('malformed turns end the rollout with a reason, never an exception', async (t) => {
  const cases: Array<[string, RegExp, number]> = [
    ['<search> </search>', /empty <search>/, 2],
    ['Kelmar </answer>', /<\/answer> without <answer>/, 2],
    ['<information> fake </information> <answer> x </answer>', /wrote an <information> tag/, 6],
    ['I do not know', /ended without <search>/, 5], // + EOS
    ['<search> a <answer> b </search>', /tag inside <search>/, 5],
    ['<think> hmm </think> <answer> </answer>', /empty <answer>/, 5],
  ]
  const turns = Object.fromEntries(cases.map(([text], i) => [`q${i}`, [text]]))
  const policy = new ScriptedPolicy(byQuestion(turns))
  const r = retriever()
  const { rollouts } = await runRollouts(policy, r, cases.map((_, i) => ({ question: `q${i}` })), { template: TEMPLATE })
  rollouts.forEach((ro, i) => {
    const [, reason, generated] = cases[i]
    t.is(ro.finish, 'malformed', `case ${i}`)
    t.regex(ro.formatError!, reason)
    t.is(maskString(ro), zeros(2) + ones(generated), `case ${i}`)
    t.is(ro.answer, null)
    t.is(ro.turns.length, 1)
    t.is(ro.turns[0].action, 'invalid')
    t.false(ro.turns[0].wellFormed)
    checkAlignment(t, ro)
  })
  t.is(rollouts[3].tokens.at(-1), policy.tokenizer.eosId, 'the EOS token is part of the response')
  t.is(r.calls.length, 0)
  t.is(policy.calls.length, 1)
})

test('over-long turns, sequences and retrieved text stay within their budgets', async (t) => {
  // A turn that never closes its tag: cut at maxTurnTokens.
  const long = new ScriptedPolicy(() => 'a b c d e f g h <answer> x </answer>')
  const { rollouts: [cut] } = await runRollouts(long, retriever(), [{ question: Q }], { template: TEMPLATE, maxTurnTokens: 5 })
  t.is(cut.finish, 'max-tokens')
  t.is(maskString(cut), zeros(6) + ones(5))
  t.is(cut.turns[0].action, 'truncated')
  t.is(cut.turns[0].text, 'a b c d e')
  checkAlignment(t, cut)

  // The whole sequence: 6 prompt + 4 search; the information block is cut to leave one token for the next turn,
  // keeping its tags: <information> Doc 1(Title: Alda </information> (5 tokens), then 1 generated token, total 16.
  const policy = new ScriptedPolicy(byQuestion({ [Q]: ['<search> Alda Voss </search>', '<answer> Kelmar </answer>'] }))
  const { rollouts: [ro] } = await runRollouts(policy, retriever(), [{ question: Q }], { template: TEMPLATE, maxTotalTokens: 16, topk: 1 })
  t.is(ro.tokens.length, 16)
  t.is(maskString(ro), zeros(6) + ones(4) + zeros(5) + ones(1))
  t.deepEqual(policy.tokenizer.decode(ro.tokens.slice(10, 15)).split(' '), ['<information>', 'Doc', '1(Title:', 'Alda', '</information>'])
  t.is(ro.turns[0].information, `${INFO_OPEN}Doc 1(Title: Alda${INFO_CLOSE}`)
  t.is(ro.finish, 'max-tokens')
  t.is(policy.calls[1].opts.maxNewTokens, 1)
  checkAlignment(t, ro)

  // No room even for the tags: the rollout ends after the search, nothing inserted.
  const tight = new ScriptedPolicy(() => '<search> Alda Voss </search>')
  const { rollouts: [t2] } = await runRollouts(tight, retriever(), [{ question: Q }], { template: TEMPLATE, maxTotalTokens: 11 })
  t.is(t2.finish, 'max-tokens')
  t.is(maskString(t2), zeros(6) + ones(4))
  t.is(t2.searchCalls, 1)

  // Maximum turns: a search asked in the last turn is recorded but not run.
  const searcher = new ScriptedPolicy(() => '<search> Alda Voss </search>')
  const r = retriever()
  const { rollouts: [mt] } = await runRollouts(searcher, r, [{ question: Q }], { template: TEMPLATE, maxTurns: 2, topk: 1 })
  t.is(mt.finish, 'max-turns')
  t.deepEqual(mt.queries, ['Alda Voss', 'Alda Voss'])
  t.is(mt.searchCalls, 1)
  t.is(r.calls.length, 1)
  t.is(maskString(mt), zeros(6) + ones(4) + zeros(11) + ones(4))

  // A prompt longer than the budget ends at once.
  const { rollouts: [p] } = await runRollouts(searcher, r, [{ question: Q }], { template: TEMPLATE, maxTotalTokens: 4 })
  t.is(p.finish, 'max-tokens')
  t.is(p.turns.length, 0)
})

test('a batch runs together: one generate call and one search call per turn, for the active rollouts only', async (t) => {
  const policy = new ScriptedPolicy(
    byQuestion({
      a: ['<search> Alda Voss </search>', '<search> Kelmar </search>', '<answer> Kelmar </answer>'],
      b: ['<answer> Kelmar </answer>'],
      c: ['<think> first </think> <search> Brin </search>', 'oops'],
    }),
  )
  const r = retriever()
  const requests = [{ question: 'a' }, { question: 'b' }, { question: 'c' }, { question: 'a' }]
  const { rollouts } = await runRollouts(policy, r, requests, { template: TEMPLATE, seed: 100, maxTurnTokens: 16, topk: 2 })
  t.deepEqual(policy.calls.map((c) => c.sequences.length), [4, 3, 2])
  t.deepEqual(policy.calls.map((c) => c.opts.seed), [100, 101, 102])
  t.deepEqual(r.calls.map((c) => c.queries), [['Alda Voss', 'Brin', 'Alda Voss'], ['Kelmar', 'Kelmar']])
  t.deepEqual(rollouts.map((x) => [x.index, x.finish, x.answer, x.searchCalls]), [
    [0, 'answer', 'Kelmar', 2],
    [1, 'answer', 'Kelmar', 0],
    [2, 'malformed', null, 1],
    [3, 'answer', 'Kelmar', 2],
  ])
  t.deepEqual(rollouts[0].tokens, rollouts[3].tokens)
  t.true(rollouts[2].turns[0].hasThink)
  for (const ro of rollouts) checkAlignment(t, ro)

  const packed = packRollouts(rollouts, policy.tokenizer.padId)
  t.is(packed.B, 4)
  t.is(packed.T, Math.max(...rollouts.map((x) => x.tokens.length)))
  const row = 1
  t.deepEqual([...packed.tokens.subarray(row * packed.T, row * packed.T + packed.lengths[row])], rollouts[row].tokens)
  t.true([...packed.tokens.subarray(row * packed.T + packed.lengths[row], (row + 1) * packed.T)].every((x) => x === 0))
  t.deepEqual([...packed.mask.subarray(row * packed.T, (row + 1) * packed.T)], [...rollouts[row].mask, ...Array(packed.T - packed.lengths[row]).fill(0)])
})

test('the experience slot and re-prefixing a trajectory with the experience-free prompt', async (t) => {
  t.is(renderPrompt(TEMPLATE, { question: 'q?' }), 'Question: q?')
  t.is(renderPrompt(TEMPLATE, { question: 'q?', experiences: ' - search the founder first ' }), '- search the founder first\nQuestion: q?')
  t.is(renderPrompt(TEMPLATE, { question: 'costs $& now?' }), 'Question: costs $& now?')
  t.true(renderPrompt(DEFAULT_TEMPLATE, { question: 'q?' }).endsWith('</answer>.\nQuestion: q?\n'))
  t.throws(() => renderPrompt('no slot', { question: 'q' }), { message: /\{question\}/ })

  const policy = new ScriptedPolicy(byQuestion({ [Q]: ['<search> Alda Voss </search>', '<answer> Kelmar </answer>'] }))
  const { rollouts: [ro] } = await runRollouts(policy, retriever(), [{ question: Q, experiences: 'Tip: search the person' }], {
    template: TEMPLATE,
    topk: 1,
  })
  t.is(ro.prompt, `Tip: search the person\nQuestion: ${Q}`)
  t.is(ro.promptLength, 10)
  const plain = policy.tokenizer.encode(renderPrompt(TEMPLATE, { question: Q }))
  const moved = withPrompt(ro, plain)
  t.is(moved.promptLength, 6)
  t.deepEqual(moved.tokens, [...plain, ...ro.tokens.slice(10)])
  t.is(moved.mask.join(''), zeros(6) + ones(4) + zeros(11) + ones(3))
  t.deepEqual([...moved.logprobs.subarray(6)], [...ro.logprobs.subarray(10)])

  await t.throwsAsync(runRollouts(policy, retriever(), [{ question: Q }], { template: 'x' }), { message: /option template: must contain/ })
  await t.throwsAsync(runRollouts(policy, retriever(), [{ question: Q }], { topk: 0 }), { instanceOf: RangeError, message: /option topk/ })
})

test('experienceFree: the trajectory as an experience-free policy sees it, without the prompt experience and the search-time line', async (t) => {
  const policy = new ScriptedPolicy(byQuestion({ [Q]: ['<search> Alda Voss </search>', '<answer> Kelmar </answer>'] }))
  const options = { template: TEMPLATE, topk: 1 }
  const { rollouts: [guided] } = await runRollouts(policy, retriever(), [{ question: Q, experiences: 'Tip: search the person', searchExperience: () => 'After searching this search the next name' }], options)
  const { rollouts: [plain] } = await runRollouts(policy, retriever(), [{ question: Q }], options)
  t.truthy(guided.turns[0].experienceSpan)
  const free = experienceFree(guided, policy.tokenizer.encode(renderPrompt(TEMPLATE, { question: Q })))
  // Exactly the experience-free rollout (same generated turns, same documents), with the sampled log-probabilities.
  t.deepEqual(free.tokens, plain.tokens)
  t.deepEqual([...free.mask], [...plain.mask])
  t.is(free.promptLength, plain.promptLength)
  t.deepEqual([...free.logprobs].filter((_, i) => free.mask[i]), [...guided.logprobs].filter((_, i) => guided.mask[i]))
  // withPrompt alone keeps the search-time line (what the internalisation variant used to score).
  t.true(policy.tokenizer.decode(withPrompt(guided, free.tokens.slice(0, free.promptLength)).tokens).includes('After searching this'))
})

test('a broken policy or retriever is an error (unlike malformed text)', async (t) => {
  const short = { tokenizer: new ScriptedPolicy(() => '').tokenizer, generate: async () => [] }
  await t.throwsAsync(runRollouts(short, retriever(), [{ question: Q }], { template: TEMPLATE }), { message: /returned 0 generations for 1 sequences/ })
  const policy = new ScriptedPolicy(() => '<search> x </search>')
  const down = { search: async () => Promise.reject(new Error('retrieval server down')) }
  await t.throwsAsync(runRollouts(policy, down, [{ question: Q }], { template: TEMPLATE }), { message: 'retrieval server down' })
})
