// The phrasing-table oracle of the go/no-go (a ceiling): the search-time line must be about the hop after the one the
// query ran. Names of a world share words ("Tallow Bank" founded by "Kesta Tallow"), so a query naming one entity
// half-matches another's name; the hop must be found from whole names.
import test from 'ava'
import type { QaExample } from '../../lib/env/types.js'
import { PhrasingOracleSource } from '../../lib/experience/advice.js'

const q: QaExample = {
  id: 'q', question: 'In which country is the birthplace of the creator of Tallow Bank?', goldAnswers: ['Valdor'],
  dataSource: 'hiexp-world', taskType: 'multihop', hops: 3,
  chain: ['Tallow Bank', 'Kesta Tallow', 'Ostby', 'Valdor'], relations: ['founded_by', 'born_in', 'located_in'],
  phrasings: ['founder/creator', 'birthplace/birthplace', 'country/country'],
}

test('after the first hop\'s search, the advice is about the second hop, also when a later name shares a word with the query', (t) => {
  const oracle = new PhrasingOracleSource()
  const afterFirst = oracle.forSearch('Tallow Bank founded', q)
  t.regex(afterFirst, /After searching \[the question's entity\] founded, .* \[the name found in step 1\] born next/)
  const afterSecond = oracle.forSearch('Kesta Tallow born', q)
  t.regex(afterSecond, /After searching \[the name found in step 1\] born, .* \[the name found in step 2\] city in next/)
  // The last hop's search has no hop after it.
  t.is(oracle.forSearch('Ostby city in', q), '')
  t.regex(oracle.render(q), /first searched \[the question's entity\] founded; the failed attempt searched \[the question's entity\] creator\./)
})
