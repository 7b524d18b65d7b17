// The shuffled-HEK control: the same texts and matching keys, each text moved to another node of its level, mostly
// one of another hop count; so that retrieval fires as often but says what another question type needed.
import test from 'ava'
import { HierarchicalExperience } from '../../lib/experience/hek.js'
import { shuffledHek } from '../../lib/experience/shuffle.js'

const experiences = [1, 1, 2, 2, 3, 3].map((hops, i) => ({
  id: `e${i}`, title: `title ${i} hop ${hops}`, text: `advice ${i} for ${hops}-hop questions`, kind: 'success-pattern' as const,
  when: `${hops}-hop questions`, taskType: 'multihop', hops, support: 4, successRate: 0.5, sources: [],
}))

test('a shuffled HEK keeps every title, vector and level, and moves every text to another node, mostly across hop counts', async (t) => {
  const hek = await HierarchicalExperience.build(experiences)
  const shuffled = shuffledHek(hek, 3)
  for (let l = 0; l < hek.levelCount; l++) {
    const before = hek.level(l)
    const after = shuffled.level(l)
    t.deepEqual(after.map((n) => [n.id, n.title, n.vector]), before.map((n) => [n.id, n.title, n.vector]))
    t.deepEqual(after.map((n) => n.text).sort(), before.map((n) => n.text).sort(), 'the same texts')
    if (before.length > 1) for (let i = 0; i < before.length; i++) t.not(after[i].text, before[i].text, `node ${before[i].id} keeps its own text`)
  }
  const cases = shuffled.level(0)
  const across = cases.filter((n) => !n.text.includes(`for ${n.hops}-hop`)).length
  t.true(across >= 4, `${across} of ${cases.length} texts come from another hop count`)
  // the same seed gives the same control
  t.deepEqual(shuffledHek(hek, 3).toJSON().nodes, shuffled.toJSON().nodes)
})
