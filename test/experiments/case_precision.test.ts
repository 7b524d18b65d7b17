// Precision of the search-time cases on evaluated rollouts: of the search calls that got a case, the share whose case
// (its title: the query it opens with) is about the relation of the hop being searched. Counted by hand here.
import test from 'ava'
import type { Rollout, Turn } from '../../lib/agent/rollout.js'
import type { QaExample } from '../../lib/env/types.js'
import { casePrecision } from '../../lib/experiments/case_precision.js'

const turn = (experience?: string): Turn => ({ text: '', action: 'search', span: [0, 0], infoSpan: [0, 1], wellFormed: true, hasThink: false, ...(experience && { experience }) })
const rollout = (turns: Turn[]) => ({ turns }) as unknown as Rollout
const q = { relations: ['born_in', 'located_in'] } as QaExample

test('the k-th search runs hop k: a case is precise when its title names that hop relation', (t) => {
  const rollouts = [
    // hop 0 (born_in): a born case, right; hop 1 (located_in): a born case, wrong
    rollout([turn("Experience: After searching [the question's entity] born, the successful attempt searched x next; …\n"), turn("Experience: For this question, the successful attempt first searched [the question's entity] born; …\n")]),
    // hop 0: no case; hop 1: a 'city in' case, right; a third search (no hop left) with a case: not precise
    rollout([turn(), turn('Experience: After searching [the name found in step 1] city in, the successful attempt answered from the results; …\n'), turn('Experience: After searching x married, …\n')]),
  ]
  const p = casePrecision(rollouts, [q, q])
  t.deepEqual(p, { fired: 4, searchCalls: 5, precision: 2 / 4 })
  t.true(Number.isNaN(casePrecision([rollout([turn()])], [q]).precision))
})

test('a title naming two relations (or one by its phrasing noun) is judged as the HEK build judges it', (t) => {
  const two = rollout([turn("Experience: After searching [the question's entity] born married, the successful attempt searched x next; …\n")])
  t.is(casePrecision([two], [q]).precision, 0)
  const noun = rollout([turn("Experience: After searching [the question's entity] hometown, the successful attempt searched x next; …\n")])
  t.is(casePrecision([noun], [q]).precision, 1)
})
