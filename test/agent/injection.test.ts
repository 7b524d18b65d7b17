// HiExp's two injection points inside the rollout loop (docs/method.md §2-§3): experiences in the prompt slot and with the
// documents of a search call are context, never trained on: mask 0 like the documents, the policy's own tokens mask 1.
import test from 'ava'
import { INFO_CLOSE, INFO_OPEN, SEARCH_EXPERIENCE_LABEL } from '../../lib/agent/prompt.js'
import { runRollouts } from '../../lib/agent/rollout.js'
import { byQuestion, FixedRetriever, lp, ScriptedPolicy } from './helpers.js'

const TEMPLATE = '{experiences}Question: {question}'
const Q = 'Where was the mother of Alda Voss born?'
const docs = {
  'Alda Voss': { id: 'p1', contents: 'Alda Voss\nThe mother of Alda Voss is Brin Voss.' },
  'Brin Voss': { id: 'p2', contents: 'Brin Voss\nBrin Voss was born in Kelmar.' },
} as Record<string, { id: string; contents: string }>
const retriever = () => new FixedRetriever((q) => (docs[q] ? [docs[q]] : []))
const script = () => new ScriptedPolicy(byQuestion({ [Q]: ['<search> Alda Voss </search>', '<search> Brin Voss </search>', '<answer> Kelmar </answer>'] }))

test('a rollout with experience at both points: every injected token and every document token is masked, every generated one is not', async (t) => {
  const policy = script()
  const queries: string[] = []
  const E1 = 'After searching Alda Voss, the successful attempt searched Brin Voss next'
  const { rollouts: [ro] } = await runRollouts(policy, retriever(), [{
    question: Q,
    experiences: 'Experience from earlier attempts:\n- Search each hop in order',
    // Only the first query matches a case; the second search gets its documents alone.
    searchExperience: (q) => (queries.push(q), q === 'Alda Voss' ? E1 : ''),
  }], { template: TEMPLATE, topk: 1 })
  const tok = policy.tokenizer
  const words = tok.decode(ro.tokens).split(' ')
  t.deepEqual(queries, ['Alda Voss', 'Brin Voss'])

  // The expected label of every token, built independently from the text: which segment each word belongs to.
  const expected: Array<[string, 0 | 1, string]> = []
  const push = (text: string, mask: 0 | 1, segment: string) => text.split(/\s+/).filter(Boolean).forEach((w) => expected.push([w, mask, segment]))
  push('Experience from earlier attempts:\n- Search each hop in order\nQuestion: ' + Q, 0, 'prompt')
  push('<search> Alda Voss </search>', 1, 'policy')
  push(`${INFO_OPEN}Doc 1(Title: Alda Voss) The mother of Alda Voss is Brin Voss.\n`, 0, 'document')
  push(`${SEARCH_EXPERIENCE_LABEL} ${E1}\n${INFO_CLOSE}`, 0, 'experience')
  push('<search> Brin Voss </search>', 1, 'policy')
  push(`${INFO_OPEN}Doc 1(Title: Brin Voss) Brin Voss was born in Kelmar.\n${INFO_CLOSE}`, 0, 'document')
  push('<answer> Kelmar </answer>', 1, 'policy')
  t.deepEqual(words, expected.map(([w]) => w), 'the sequence is the prompt, the turns and the two information blocks, in order')
  expected.forEach(([w, m, segment], j) => {
    t.is(ro.mask[j], m, `token ${j} '${w}' (${segment}) has mask ${m}`)
    t.is(ro.logprobs[j], m ? Math.fround(lp(ro.tokens[j])) : 0, `token ${j} '${w}': sampling log-prob only where generated`)
  })
  t.is(ro.responseTokens, expected.filter(([, m]) => m === 1).length)

  // The turn records where the experience went: inside the first information block, after the document.
  const [first, second] = ro.turns
  t.is(first.experience, `${SEARCH_EXPERIENCE_LABEL} ${E1}\n`)
  t.true(first.information!.endsWith(`Brin Voss.\n${SEARCH_EXPERIENCE_LABEL} ${E1}\n${INFO_CLOSE}`), first.information)
  const [a, b] = first.experienceSpan!
  t.true(first.infoSpan![0] < a && b < first.infoSpan![1])
  t.is(tok.decode(ro.tokens.slice(a, b)), `${SEARCH_EXPERIENCE_LABEL} ${E1}`)
  t.true([...ro.mask.subarray(a, b)].every((m) => m === 0))
  t.is(second.experience, undefined)
  t.is(second.experienceSpan, undefined)
  // The prompt's experience is inside the prompt (mask 0 by construction).
  t.true(ro.prompt.startsWith('Experience from earlier attempts:'))
})

test('a long search experience is kept whole while the documents are cut to the information budget', async (t) => {
  const policy = script()
  const E1 = 'After searching Alda Voss, the successful attempt searched Brin Voss next'
  const { rollouts: [ro] } = await runRollouts(policy, retriever(), [{ question: Q, searchExperience: () => E1 }], { template: TEMPLATE, topk: 1, maxInfoTokens: 18 })
  const t0 = ro.turns[0]
  t.is(t0.infoSpan![1] - t0.infoSpan![0], 18, 'the block fills its budget exactly')
  t.is(policy.tokenizer.decode(ro.tokens.slice(...t0.experienceSpan!)), `${SEARCH_EXPERIENCE_LABEL} ${E1}`)
  t.true(t0.information!.endsWith(`${E1}\n${INFO_CLOSE}`))
  // Too small for the experience and the tags: the experience is left out, the documents cut as before.
  const { rollouts: [small] } = await runRollouts(script(), retriever(), [{ question: Q, searchExperience: () => E1 }], { template: TEMPLATE, topk: 1, maxInfoTokens: 8 })
  t.is(small.turns[0].experience, undefined)
  t.is(small.turns[0].infoSpan![1] - small.turns[0].infoSpan![0], 8)
})

test('a bad search experience is an error naming the request', async (t) => {
  await t.throwsAsync(runRollouts(script(), retriever(), [{ question: Q, searchExperience: 'text' as never }], { template: TEMPLATE }), {
    instanceOf: TypeError,
    message: /requests\[0\]\.searchExperience must be a function/,
  })
  await t.throwsAsync(runRollouts(script(), retriever(), [{ question: Q, searchExperience: () => 42 as never }], { template: TEMPLATE }), {
    instanceOf: TypeError,
    message: /requests\[0\]\.searchExperience returned number, expected a string/,
  })
})
