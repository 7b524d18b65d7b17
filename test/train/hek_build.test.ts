// A run that builds its own HEK (docs/method.md §1-§2): the embedder learns its space from the task's corpus and train
// questions as well, and the HEK's retrieval precision is measured on the train split and kept in hek.json.
import test from 'ava'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { oracleTurns } from '../../lib/agent/demonstrations.js'
import * as hx from '../../lib/index.js'
import { tinyRun } from './fixtures/tiny_run.js'

test('a HEK built by a run is fitted on the corpus and the train questions, and carries its retrieval precision', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-hek-build-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 0, warmStart: { steps: 0 }, experience: { enabled: true, buildQuestions: 12, buildGroupSize: 4 } }))
  // Scripted generation (the weights are not what this is about): in the first turn even rows follow the gold chain,
  // odd rows answer the question's own entity at once (wrong), so every group has both outcomes.
  const tok = trainer.policy.tokenizer
  const squash = (x: string) => x.replace(/\s+/g, '')
  trainer.policy.generate = (async (sequences: number[][]) =>
    sequences.map((seq, k) => {
      const text = tok.decode(seq)
      const asked = text.slice(text.lastIndexOf('Question'))
      const body = squash(asked)
      const q = trainer.task.train.find((x) => body.startsWith(squash(`Question: ${x.question}`)))!
      const searched = asked.split('</search>').length - 1
      const turns = oracleTurns(q)
      const turn = searched === 0 && k % 2 === 1 ? `<answer> ${q.chain![0]} </answer>` : turns[Math.min(searched, turns.length - 1)]
      const out = tok.encode(turn)
      return { tokens: out, logprobs: out.map(() => -1), text: tok.decode(out), finish: 'stop' as const }
    })) as typeof trainer.policy.generate
  const hek = (await trainer.prepareExperience())!
  t.truthy(hek)
  const embedder = hek.file.embedder
  t.is(embedder.kind, 'tfidf-svd')
  if (embedder.kind === 'tfidf-svd') t.is(embedder.background, trainer.task.fitTexts.length)
  t.true(trainer.task.fitTexts.length > trainer.task.train.length, 'the corpus and the train questions')
  const build = JSON.parse(readFileSync(join(dir, 'hek.json'), 'utf8')).build
  t.log(`retrieval precision ${build.retrievalPrecision} (${build.retrievalPrecise}/${build.retrievalFired} of ${build.retrievalReplayed})`)
  t.true(build.retrievalReplayed > 0)
  t.true(build.retrievalFired >= build.retrievalPrecise)
  t.is(hek.buildStats.retrievalReplayed, build.retrievalReplayed)
})
