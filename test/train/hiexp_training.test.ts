// HiExp's training and evaluation in the paper's form (docs/method.md §3-§4), against hiexp's internalisation variant.
import test from 'ava'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as hx from '../../lib/index.js'
import type { RlBatch } from '../../lib/model/policy.js'
import type { PolicyLossOptions } from '../../lib/ops/rl/types.js'
import { tinyRun } from './fixtures/tiny_run.js'

const PROMPT_ADVICE = 'Search each entity of the question before answering'
const SEARCH_ADVICE = 'After searching this the successful attempt searched the next name'

/** Records what every RL step trains on: the decoded sequences, their masks, and the loss options. */
function recordUpdates(trainer: hx.Trainer): Array<{ texts: string[]; masks: number[][]; sequences: number[][]; loss: PolicyLossOptions }> {
  const seen: Array<{ texts: string[]; masks: number[][]; sequences: number[][]; loss: PolicyLossOptions }> = []
  const step = trainer.policy.trainStep.bind(trainer.policy)
  trainer.policy.trainStep = (batch: RlBatch, loss?: PolicyLossOptions) => {
    const sequences = batch.sequences.map((s) => Array.from(s))
    seen.push({ texts: sequences.map((s) => trainer.policy.tokenizer.decode(s)), masks: batch.masks.map((m) => Array.from(m)), sequences, loss: { ...loss } })
    return step(batch, loss)
  }
  return seen
}

/**
 * The policy's generation replaced by a script (the weights still train): the first turn searches the question's last
 * two words, the next answers. An untrained policy rarely writes a well-formed search, and this test is about what
 * happens around one.
 */
function scriptSearches(trainer: hx.Trainer): void {
  const tok = trainer.policy.tokenizer
  trainer.policy.generate = (async (sequences: number[][]) =>
    sequences.map((seq) => {
      const text = tok.decode(seq)
      const question = text.slice(text.lastIndexOf('Question:'))
      const searched = question.includes('</search>')
      const words = question.replace(/^Question:\s*/, '').split(/\s+/).filter(Boolean).slice(0, 2).join(' ')
      const out = tok.encode(searched ? '<answer> x </answer>' : `<search> ${words} </search>`)
      return { tokens: out, logprobs: out.map(() => -1), text: tok.decode(out), finish: 'stop' as const }
    })) as typeof trainer.policy.generate
}

/** A source that always advises, at both points, and counts its calls. */
function source() {
  const calls = { render: 0, search: 0 }
  return {
    calls,
    render: () => (calls.render++, PROMPT_ADVICE),
    forSearch: () => (calls.search++, SEARCH_ADVICE),
  }
}

/** Indices of `needle`'s tokens inside `hay`, or -1. */
function indexOf(hay: number[], needle: number[]): number {
  for (let i = 0; i + needle.length <= hay.length; i++) if (needle.every((x, j) => hay[i + j] === x)) return i
  return -1
}

test('the paper form: every rollout is trained as sampled, experiences at both points in its context with mask 0, KL β = 1e-3 to the reference', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-paper-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 1, warmStart: { steps: 0 }, experience: { enabled: true } }))
  t.is(trainer.config.experience.guidedFraction, 1)
  t.is(trainer.config.experience.variant, 'paper')
  t.is(trainer.config.loss.klCoef, 1e-3)
  const s = source()
  trainer.experience = s
  scriptSearches(trainer)
  const updates = recordUpdates(trainer)
  const row = await trainer.rlStep()
  const G = trainer.config.groupSize
  const Q = trainer.config.questionsPerStep
  t.is(s.calls.render, Q, 'one prompt retrieval per question, shared by its group')
  const [u] = updates
  t.is(u.texts.length, G * Q)
  t.is(u.loss.klCoef, 1e-3, 'the KL of the loss: to the frozen reference, β = 1e-3')
  t.is((u.loss as { refLogprobs?: unknown }).refLogprobs, undefined)
  const tok = trainer.policy.tokenizer
  const advice = tok.encode(PROMPT_ADVICE)
  const caseIds = tok.encode(SEARCH_ADVICE)
  const records = trainer.trajectories.read()
  let searched = 0
  u.sequences.forEach((seq, i) => {
    // Trained under the context it was sampled in: the prompt's experience is there, and masked.
    const at = indexOf(seq, advice)
    t.true(at >= 0, `sequence ${i} carries the prompt experience`)
    t.true(u.masks[i].slice(at, at + advice.length).every((m) => m === 0))
    // Every search call got the case line, masked like the documents.
    const c = indexOf(seq, caseIds)
    const blocks = records[i].turns.filter((x) => x.information !== undefined)
    if (blocks.length > 0) {
      searched++
      t.true(blocks.every((b) => b.information!.includes(`Experience: ${SEARCH_ADVICE}`)), 'each tool response carries it')
      t.true(c >= 0, `sequence ${i}: the search-time experience is in the trained context`)
      t.true(u.masks[i].slice(c, c + caseIds.length).every((m) => m === 0))
    }
  })
  t.log(`${searched} of ${G * Q} rollouts searched (an untrained policy; test/agent/injection.test.ts scripts the searches)`)
  t.is(s.calls.search > 0, searched > 0)
  t.is(row.searchExperienceShare, searched > 0 ? 1 : 0)
  // The zero-variance share, from the stored rewards (an independent count).
  let zero = 0
  for (let g = 0; g < Q; g++) {
    const r = records.slice(g * G, (g + 1) * G).map((x) => x.reward.total)
    if (r.every((x) => x === r[0])) zero++
  }
  t.is(row.zeroVarianceGroupShare, zero / Q)
  t.true(records.every((r) => r.guided))
  t.is(typeof row.cem, 'number')
})

test('the internalisation variant (hiexp\'s own): guided rollouts are trained as an experience-free policy sees them (no prompt experience, no search-time line), with a KL towards the sampling distribution and the paper\'s KL to the frozen reference', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-paper-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 1, warmStart: { steps: 0 }, experience: { enabled: true, variant: 'internalize' } }))
  t.is(trainer.config.loss.klCoef, 1e-3)
  trainer.experience = source()
  scriptSearches(trainer)
  const updates = recordUpdates(trainer)
  // What the first update is given, and the log-probs of its rows under the weights it starts from (the reference's).
  const recorded = trainer.policy.trainStep.bind(trainer.policy)
  const seen: Array<{ batch: RlBatch; before: Float32Array[] }> = []
  trainer.policy.trainStep = async (batch: RlBatch, loss?: PolicyLossOptions) => {
    seen.push({ batch, before: (await trainer.policy.score(batch.sequences.map((x) => Array.from(x)))).logprobs })
    return recorded(batch, loss)
  }
  await trainer.rlStep()
  const [u] = updates
  const advice = trainer.policy.tokenizer.encode(PROMPT_ADVICE)
  const searchAdvice = trainer.policy.tokenizer.encode(SEARCH_ADVICE)
  t.true(u.texts.some((x) => x.includes('<information>')), 'the rollouts searched, so a search-time line was inserted')
  for (const seq of u.sequences) {
    t.is(indexOf(seq, advice), -1, 'no prompt experience in what is trained')
    t.is(indexOf(seq, searchAdvice), -1, 'no search-time experience in what is trained')
  }
  // Both KLs: λ = 0.01 towards the sampling distribution and β = 1e-3 to the frozen reference, as one k2 target.
  t.true(Math.abs((u.loss.klCoef ?? 0) - 0.011) < 1e-12)
  t.is(u.loss.klEstimator, 'k2')
  const { batch, before } = seen[0]
  const w = 1e-3 / 0.011
  let checked = 0
  batch.sequences.forEach((_, k) => {
    const mask = batch.masks[k]
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue
      const expected = w * before[k][i] + (1 - w) * batch.oldLogprobs![k][i]
      t.true(Math.abs(batch.refLogprobs![k][i] - expected) < 1e-4, `row ${k} token ${i}`)
      checked++
    }
  })
  t.true(checked > 0)
  t.true(existsSync(join(dir, 'reference-0', 'config.json')), 'the frozen reference is kept with the run (a resumed run reads it back)')
  t.throws(() => hx.parseTrainConfig({ experience: { variant: 'align' } }), { instanceOf: RangeError, message: /experience\.variant/ })
})

test('evaluation of a HiExp run: with its HEK (both points, the method\'s number) and without it; a plain run without only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-paper-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const trainer = await hx.Trainer.create(tinyRun(dir, { steps: 0, warmStart: { steps: 0 }, experience: { enabled: true } }))
  const s = source()
  trainer.experience = s
  const examples = trainer.task.test.slice(0, 4)
  const { withHek, withoutHek } = await trainer.evaluateRun(examples)
  t.is(s.calls.render, examples.length, 'the HEK is asked once per question, for the with-HEK pass only')
  t.truthy(withHek)
  for (const e of [withHek!, withoutHek]) {
    t.is(e.n, examples.length)
    for (const k of ['em', 'f1', 'cem'] as const) t.true(e[k] >= 0 && e[k] <= 1, k)
    t.true(e.cem >= e.em, 'an exact match is also covered')
  }
  const plain = await hx.Trainer.create(tinyRun(join(dir, 'plain'), { steps: 0, warmStart: { steps: 0 } }))
  const p = await plain.evaluateRun(examples)
  t.is(p.withHek, undefined)
  await t.throwsAsync(plain.evaluate(examples, { withExperience: true }), { message: /withExperience needs the run's HEK/ })
})
