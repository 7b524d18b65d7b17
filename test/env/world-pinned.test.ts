// The generated world is pinned byte for byte: these digests were taken from generateWorld before it was split into
// named steps (world_graph, world_corpus, world_questions) and before the regime options were added. A change to any
// step's random stream, text or order changes a digest; an intended change of the world must update them on purpose.
import test from 'ava'
import { createHash } from 'node:crypto'
import { generateWorld, type WorldOptions } from '../../lib/env/world.js'

const PINNED: Array<[WorldOptions, string]> = [
  [{}, 'cbd7228655a1a6bebd8380e0b537f9530316262d5edc78ace6682504018cf3d5'],
  [{ seed: 1 }, '63c579437a788bdd52d92a343f80e80399ff3546d6caf4827ddb8b3943e74ed8'],
  [{ seed: 2 }, 'aca4996ade5992c8f8dec9ac305488b171462336007ab089da1a47029ded214a'],
  [{ seed: 7, distractors: 5, sentencesPerPassage: 2 }, '7a9dd0623f31c435c515100ac9cd69a3f096c07836d3d95a115dfb7e6efeefd5'],
  [{ seed: 3, hops: [2, 3], questionsPerHop: 40 }, 'dc3f9021b4d06f4ea8816de8d189d351be5f698ee74308c09105f875cc52f7d9'],
  [
    { seed: 4, countries: 3, cities: 5, people: 10, organisations: 3, films: 2, books: 2, distractors: 0 },
    '028943306b7159d16ee1015c65c5a73cf52ca16a05842df7381816114ea652d3',
  ],
  [
    { seed: 5, people: 200, cities: 60, countries: 12, marriedFraction: 1, employedFraction: 0.2 },
    '02fd6f0f1fa98256369e3cc4e12df36c861433619086b3fff75512678037fd2d',
  ],
]

const digest = (options: WorldOptions) => createHash('sha256').update(JSON.stringify(generateWorld(options))).digest('hex')

for (const [options, sha] of PINNED) {
  test(`generateWorld(${JSON.stringify(options)}) is the pinned world`, (t) => {
    t.is(digest(options), sha)
  })
}

test('the digest sees a one-character change of the world', (t) => {
  const world = generateWorld({})
  world.corpus[0].contents += '.'
  t.not(createHash('sha256').update(JSON.stringify(world)).digest('hex'), PINNED[0][1])
})
