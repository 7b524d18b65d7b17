// HEK pictures (lib/experience/show.ts) readable at screen size: labels by what differs, a legend for the border
// colours, the τ cuts and the axes labelled.
import test from 'ava'
import { distinctLabels, hekDendrogramSvg, hekTreeSvg } from '../../lib/experience/show.js'
import { HierarchicalExperience } from '../../lib/experience/hek.js'

const LEAD = 'For this question, the successful attempt first searched'

async function hekOf(n: number): Promise<HierarchicalExperience> {
  const topics = ['founder', 'birthplace', 'spouse', 'director', 'author', 'capital', 'employer', 'headquarters']
  const names = ['Alda', 'Brin', 'Corran', 'Dessa', 'Efa', 'Gala', 'Kesta', 'Lira', 'Norwick', 'Ostby', 'Quin', 'Tov', 'Una', 'Wexley', 'Zed']
  return HierarchicalExperience.build(
    Array.from({ length: n }, (_, i) => ({
      id: `e${i}`,
      text: `${LEAD} the ${topics[i % topics.length]} of ${names[i % names.length]} ${names[(i * 7 + 3) % names.length]}`,
      kind: i % 3 === 0 ? ('failure-pattern' as const) : ('success-pattern' as const),
      when: 'any', taskType: 'any', support: 1 + (i % 5), successRate: 0.5, sources: [],
    })),
  )
}

test('labels cut the lead-in every text shares and keep what differs', (t) => {
  t.deepEqual(distinctLabels([`${LEAD} the founder`, `${LEAD} the city`, `${LEAD} the founder's wife`]), ['… founder', '… city', "… founder's wife"])
  // Two shared words are not a lead-in; a single text keeps its words.
  t.deepEqual(distinctLabels(['Search the city', 'Search the person']), ['Search the city', 'Search the person'])
  t.deepEqual(distinctLabels([`${LEAD} x`]), [`${LEAD} x`])
})

test('the tree fits a screen, labels by what differs and has a legend for its colours', async (t) => {
  const hek = await hekOf(40)
  const svg = hekTreeSvg(hek, { title: 'HEK' })
  const width = Number(/width="(\d+)"/.exec(svg)![1])
  t.true(width <= 1700, `width ${width}`)
  t.regex(svg, /from successful rollouts \(do this\)/)
  t.regex(svg, /from failed rollouts \(avoid this\)/)
  t.regex(svg, /10 of 40 cases shown/)
  t.notRegex(svg, /For this question, the successful/)
  t.regex(svg, /… (the )?(founder|birthplace|spouse|director|author|capital|employer|headquarters)/)
})

test('the dendrogram labels its τ cuts and its axes', async (t) => {
  const hek = await hekOf(12)
  const svg = hekDendrogramSvg(hek)
  t.regex(svg, /τ1 = \d\.\d\d \(cases → patterns\)/)
  t.regex(svg, /τ2 = \d\.\d\d \(patterns → strategies\)/)
  t.regex(svg, /Ward merge height/)
  t.regex(svg, /E1 cases/)
  t.notRegex(svg, /For this question/)
})
