import test from 'ava'
import fc from 'fast-check'
import { generateWorld } from '../../lib/env/world.js'

test('any small world generates, and every question follows its chain through the corpus', (t) => {
  fc.assert(
    fc.property(
      fc.record({
        seed: fc.integer({ min: 0, max: 1 << 30 }),
        countries: fc.integer({ min: 1, max: 5 }),
        cities: fc.integer({ min: 5, max: 20 }),
        people: fc.integer({ min: 2, max: 40 }),
        organisations: fc.integer({ min: 1, max: 12 }),
        films: fc.integer({ min: 1, max: 10 }),
        books: fc.integer({ min: 1, max: 10 }),
        distractors: fc.integer({ min: 0, max: 3 }),
        sentencesPerPassage: fc.integer({ min: 1, max: 5 }),
        questionsPerHop: fc.integer({ min: 1, max: 40 }),
      }),
      (options) => {
        const w = generateWorld(options)
        const byId = new Map(w.corpus.map((p) => [p.id, p.contents]))
        const names = w.entities.map((e) => e.name)
        if (new Set(names).size !== names.length) return false
        for (const q of [...w.questions.train, ...w.questions.validation, ...w.questions.test]) {
          for (let i = 0; i < q.hops!; i++) {
            const text = byId.get(q.evidence![i])
            if (!text || !text.startsWith(`${q.chain![i]}\n`) || !text.includes(q.chain![i + 1])) return false
          }
        }
        return true
      },
    ),
    { numRuns: 40, seed: 1 },
  )
  t.pass()
})
