// Role slots (lib/experience/roles.ts): names become the role the attempt got them from.
import test from 'ava'
import { FOUND_NAME, namesIn, OTHER_NAME, QUESTION_ENTITY, queryKey, questionKey, roleForm, stepName } from '../../lib/experience/roles.js'

const question = "Where was the founder of North Norwick's bank born?"
const step1 = '\n\n<information>Doc 1(Title: North Norwick Bank) North Norwick Bank was founded by Alda Voss.\n</information>\n\n'
const step2 = '\n\n<information>Doc 1(Title: Alda Voss) Alda Voss was born in Calder Falls.\n</information>\n\n'

test('names: runs of capitalised words, without question words, labels or possessives', (t) => {
  t.deepEqual(namesIn(question, { leadingWord: 'skip' }), ['North Norwick'])
  t.deepEqual(namesIn('Which city is Brisk Bay in?', { leadingWord: 'skip' }), ['Brisk Bay'])
  t.deepEqual(namesIn('Who wrote The Silent River?', { leadingWord: 'skip' }), ['The Silent River'])
  t.deepEqual(namesIn('The Silent River written', { leadingWord: 'name' }), ['Silent River'])
  t.is(queryKey('The Silent River written', 'Who wrote The Silent River?'), `${QUESTION_ENTITY} written`)
  t.deepEqual(namesIn(step1, { leadingWord: 'name' }), ['North Norwick Bank', 'Alda Voss'])
  t.deepEqual(namesIn('Name the entity from the question in the first search.', { leadingWord: 'skip' }), [])
  t.deepEqual(namesIn('Alda Voss born', { leadingWord: 'name' }), ['Alda Voss'])
})

test('role form: the question\'s entity, the name found in step k, and any other name', (t) => {
  const text = 'After searching North Norwick founded, the successful attempt searched Alda Voss born next; the failed attempt answered Brisk Bay, which was wrong.'
  t.is(
    roleForm(text, { question, results: [step1] }),
    `After searching ${QUESTION_ENTITY} founded, the successful attempt searched ${stepName(1)} born next; the failed attempt answered ${OTHER_NAME}, which was wrong.`,
  )
  // A name returned by the second search only.
  t.is(roleForm('answered Calder Falls', { question, results: [step1, step2] }), `answered ${stepName(2)}`)
  // Slots already there are kept; a text without names is unchanged.
  t.is(roleForm(`searched ${stepName(1)} born`), `searched ${stepName(1)} born`)
  t.is(roleForm('Do not answer before any search.'), 'Do not answer before any search.')
})

test('retrieval keys: a query and a question as the HEK compares them', (t) => {
  t.is(queryKey('North Norwick founded', question), `${QUESTION_ENTITY} founded`)
  t.is(queryKey('Alda Voss born', question), `${FOUND_NAME} born`)
  t.is(questionKey(question), `Where was the founder of ${QUESTION_ENTITY}'s bank born?`)
  // Two questions of one type have one key.
  t.is(questionKey('Where was the founder of Brisk Bay born?'), questionKey('Where was the founder of Calder Falls born?'))
})
