import test from 'ava'
import { exactMatch, f1Score, makeReward, normalizeAnswer, substringMatch, type RewardInput } from '../../lib/agent/reward.js'
import { parseAction, turnFormat } from '../../lib/agent/tags.js'

test('answer normalisation follows SQuAD: lower case, no punctuation, no articles, single spaces', (t) => {
  const cases: Array<[string, string]> = [
    ['The Eiffel Tower', 'eiffel tower'],
    ['  the  Eiffel-Tower! ', 'eiffeltower'], // '-' is punctuation: removed, not a space
    ['A Tale of Two Cities', 'tale of two cities'],
    ['An apple, a day.', 'apple day'],
    ['Theatre and anthem', 'theatre and anthem'], // articles only as whole words
    ["O'Neill & Sons", 'oneill sons'],
    ['THE', ''],
    ['Café  the   Noir', 'café noir'],
    ['Éthe', 'éthe'], // Unicode letters are word characters, as in Python's re
    ['1,000', '1000'],
    ['\tPort\nYarrow ', 'port yarrow'],
  ]
  for (const [input, expected] of cases) t.is(normalizeAnswer(input), expected, JSON.stringify(input))
})

test('exact match, substring match and F1, worked by hand', (t) => {
  t.is(exactMatch('the Beatles', ['Beatles']), 1)
  t.is(exactMatch('Beatles.', ['The Rolling Stones', 'the beatles']), 1)
  t.is(exactMatch('Beatle', ['Beatles']), 0)
  t.is(exactMatch(null, ['x']), 0)
  t.is(substringMatch('I think it is Port Yarrow.', ['port yarrow']), 1)
  t.is(substringMatch('Yarrow', ['Port Yarrow']), 0)
  // pred [alda, voss, was, born], gold [alda, voss]: P = 2/4, R = 2/2, F1 = 2·0.5·1/1.5 = 2/3
  t.is(f1Score('Alda Voss was born', ['Alda Voss']), 2 / 3)
  // "a" is an article: pred [b, c], gold [b, c, d, e]: P = 1, R = 1/2, F1 = 2/3
  t.is(f1Score('a b c', 'b c d e'), 2 / 3)
  // repeated tokens count once per occurrence: pred [x, x, y], gold [x, y, y]: same = 2, P = R = 2/3, F1 = 2/3
  t.is(f1Score('x x y', 'x y y'), 2 / 3)
  // best over gold answers
  t.is(f1Score('Port Yarrow', ['Yarrow Cross', 'Port Yarrow Bay']), (2 * 1 * (2 / 3)) / (1 + 2 / 3))
  t.is(f1Score('nothing here', ['Kelmar']), 0)
  // SQuAD v2: when either side normalises to nothing, 1 only if both do
  t.is(f1Score('the', ['a']), 1)
  t.is(f1Score('the', ['Kelmar']), 0)
})

const rollout = (over: Partial<RewardInput>): RewardInput => ({
  answer: 'Kelmar',
  finish: 'answer',
  queries: [],
  responseTokens: 10,
  turns: [{ text: '<answer> Kelmar </answer>', action: 'answer', span: [0, 3], wellFormed: true, hasThink: false }],
  ...over,
})

test('rewards compose by configuration and report every part', (t) => {
  t.deepEqual(makeReward()(rollout({}), ['Kelmar']), {
    total: 1, answer: 1, em: 1, f1: 1, cem: 1, format: 1, malformed: 0, lengthPenalty: 0, repeatedQueries: 0, repeatedQueryPenalty: 0,
  })
  // CEM: the gold answer contained in the prediction, normalised like EM ("Port Kelmar" covers "Kelmar"; EM does not).
  const cover = makeReward({ metric: 'cem' })(rollout({ answer: 'Port  Kelmar!' }), ['the Kelmar'])
  t.like(cover, { em: 0, cem: 1, answer: 1 })
  t.like(makeReward({ metric: 'cem' })(rollout({ answer: 'Kelma' }), ['Kelmar']), { cem: 0, answer: 0 })
  const reward = makeReward({
    metric: 'f1',
    formatWeight: 0.2,
    malformedPenalty: 0.5,
    lengthPenalty: { coef: 0.01, freeTokens: 8 },
    repeatedQueryPenalty: 0.1,
  })
  // f1('Port Kelmar', 'Kelmar') = 2·0.5·1/1.5 = 2/3; format 0.2; length 0.01·(20 − 8) = 0.12; one repeated query 0.1
  const r = reward(rollout({ answer: 'Port Kelmar', responseTokens: 20, queries: ['Alda Voss', 'kelmar', 'alda voss!'] }), ['Kelmar'])
  t.is(r.em, 0)
  t.is(r.answer, 2 / 3)
  t.is(r.format, 1)
  t.is(r.repeatedQueries, 1)
  t.true(Math.abs(r.lengthPenalty - 0.12) < 1e-12)
  t.true(Math.abs(r.total - (2 / 3 + 0.2 - 0.12 - 0.1)) < 1e-12)
  // Malformed: no answer, no format reward, the penalty.
  const m = reward(rollout({ answer: null, finish: 'malformed', responseTokens: 5, turns: [] }), ['Kelmar'])
  t.is(m.total, -0.5)
  t.is(m.format, 0)
  // Format needs every turn well-formed, and a <think> block when required.
  const bad = rollout({ turns: [{ text: 'x <answer> Kelmar </answer>', action: 'answer', span: [0, 4], wellFormed: false, hasThink: false }] })
  t.is(reward(bad, ['Kelmar']).format, 0)
  t.is(makeReward({ requireThink: true, formatWeight: 1 })(rollout({}), ['Kelmar']).total, 1)
  t.throws(() => makeReward({ metric: 'bleu' as 'em' }), { instanceOf: RangeError, message: /reward config: metric/ })
  t.throws(() => makeReward({ malformedPenalty: -1 }), { message: /malformedPenalty/ })
})

test('tag parsing and the strict turn format', (t) => {
  t.deepEqual(parseAction('<think> who? </think> <search>  Alda Voss </search>'), { kind: 'search', query: 'Alda Voss' })
  t.deepEqual(parseAction('<answer> Kelmar </answer>\n'), { kind: 'answer', answer: 'Kelmar' })
  t.deepEqual(parseAction('<search> a </search> <search> b </search>'), { kind: 'search', query: 'b' })
  t.is(parseAction('<answer> x').kind, 'invalid')
  // The rest of the token that completed the stop string is ignored.
  t.deepEqual(parseAction('<answer> Kelmar </answer>.'), { kind: 'answer', answer: 'Kelmar' })
  t.deepEqual(parseAction('<search> who </search>\n\n'), { kind: 'search', query: 'who' })
  t.deepEqual(turnFormat('<think> a </think> <search> b </search>'), { wellFormed: true, hasThink: true })
  t.deepEqual(turnFormat(' <answer> b </answer> '), { wellFormed: true, hasThink: false })
  t.false(turnFormat('text <answer> b </answer>').wellFormed)
  t.false(turnFormat('<search> a </search> <search> b </search>').wellFormed)
  t.false(turnFormat('<think> a <think> </think> <answer> b </answer>').wellFormed)
})
