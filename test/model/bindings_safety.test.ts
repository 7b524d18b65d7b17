// Issue 15.1 for the model bindings: every option is read (its getter run) before any typed array is looked at, and
// the arrays are copied before JavaScript can run again, so a getter that transfers or shrinks an input's buffer
// gets a clear error instead of a read of freed memory, and async work never sees JavaScript memory. Each probe
// runs in a child process so that a crash fails the test instead of the runner.
import test, { type ExecutionContext } from 'ava'

import { FAILURE_HELPER, probeChild, REPO } from '../helpers/run_child.js'

function probe(t: ExecutionContext, body: string): Record<string, string> {
  return probeChild(t, `
import { native } from '${REPO}/lib/native/loader.js'
import { tinyConfig } from '${REPO}/lib/model/config.js'
const n = native()
const config = tinyConfig(50, { hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 })
const policy = await n.policyCreate(config, { device: 'cpu', dtype: 'float32', seed: 1 })
${FAILURE_HELPER}
const transfer = (a: ArrayBufferView) => structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] })
const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]))
${body}`)
}

test('generateStart: getters that transfer ids or shrink lengths are refused with a message, not a crash', (t) => {
  const out = probe(t, `
const ids = Int32Array.from([1, 2, 3, 4, 5, 6]), lengths = Int32Array.from([3, 3])
const transferIds = { get maxNewTokens() { transfer(ids); return 4 }, seed: 1 }
const rab = new ArrayBuffer(8, { maxByteLength: 64 })
const lengthsR = new Int32Array(rab)
lengthsR.set([3, 3])
const shrinkLengths = { maxNewTokens: 4, get topP() { rab.resize(4); return 1 }, seed: 1 }
console.log(JSON.stringify({
  transferred: await failure(() => n.generateStart(policy, ids, lengths, transferIds)),
  shrunk: await failure(() => n.generateStart(policy, Int32Array.from([1, 2, 3, 4, 5, 6]), lengthsR, shrinkLengths)),
}))`)
  t.regex(out.transferred, /^TypeError: ids is a view of a detached ArrayBuffer \(transferred away\)/)
  t.regex(out.shrunk, /^RangeError: lengths sum to 3 but ids holds 6/)
})

test('generateResume: a getter on options.seed that transfers from is refused with a message', (t) => {
  const out = probe(t, `
const first = await n.generateStart(policy, Int32Array.from([1, 2, 3]), Int32Array.from([3]), { maxNewTokens: 4, seed: 1 })
await n.generateEnd(first.session, true)
const from = Int32Array.from([0])
const opts = { maxNewTokens: 4, get seed() { transfer(from); return 2 } }
console.log(JSON.stringify({ transferred: await failure(() => n.generateResume(first.session, from, Int32Array.from([4]), Int32Array.from([1]), opts, policy)) }))`)
  t.regex(out.transferred, /^TypeError: from is a view of a detached ArrayBuffer \(transferred away\)/)
})

test('policyScore: a getter on options that transfers ids is refused; a transfer after the call leaves the result intact', (t) => {
  const out = probe(t, `
const ids = () => Int32Array.from([1, 5, 9, 2, 7, 3])
const reference = await n.policyScore(policy, ids(), 2, 3, { entropy: true })
const a = ids()
const getter = { get entropy() { transfer(a); return true } }
const refused = await failure(() => n.policyScore(policy, a, 2, 3, getter))
const b = ids()
const pending = n.policyScore(policy, b, 2, 3, { entropy: true })
transfer(b)
const r = await pending
const c = ids()
const pendingLogits = n.policyLogits(policy, c, 2, 3)
transfer(c)
const logits = await pendingLogits
console.log(JSON.stringify({ refused, intact: String(same(r.logprobs, reference.logprobs) && same(r.entropy, reference.entropy)),
  logits: String(same(logits, await n.policyLogits(policy, ids(), 2, 3))) }))`)
  t.regex(out.refused, /^TypeError: ids is a view of a detached ArrayBuffer/)
  t.is(out.intact, 'true')
  t.is(out.logits, 'true')
})

test('zero-length, detached and out-of-range inputs to the model bindings are clear errors', (t) => {
  const out = probe(t, `
const detached = Int32Array.from([1, 2, 3])
transfer(detached)
console.log(JSON.stringify({
  emptyBatch: await failure(() => n.generateStart(policy, new Int32Array(0), new Int32Array(0), { maxNewTokens: 2, seed: 1 })),
  emptyRow: await failure(() => n.generateStart(policy, Int32Array.from([1]), Int32Array.from([0, 1]), { maxNewTokens: 2, seed: 1 })),
  detached: await failure(() => n.policyLogits(policy, detached, 1, 3)),
  zeroB: await failure(() => n.policyScore(policy, new Int32Array(0), 0, 3)),
  outside: await failure(() => n.policyLogits(policy, Int32Array.from([1, 50]), 1, 2)),
  negativeLength: await failure(() => n.generateStart(policy, Int32Array.from([1, 2]), Int32Array.from([-1]), { maxNewTokens: 2, seed: 1 })),
  keepDetached: await failure(async () => {
    const s = await n.generateStart(policy, Int32Array.from([1, 2]), Int32Array.from([2]), { maxNewTokens: 3, seed: 1 })
    const keep = Int32Array.from([0])
    transfer(keep)
    return n.generateStep(s.session, keep)
  }),
  hugeMaxNew: await failure(() => n.generateStart(policy, Int32Array.from([1]), Int32Array.from([1]), { maxNewTokens: 2 ** 40, seed: 1 })),
}))`)
  t.regex(out.emptyBatch, /^RangeError: sequences must hold at least one sequence/)
  t.regex(out.emptyRow, /^RangeError: sequences\[0\] is empty: generation needs at least one token/)
  t.regex(out.detached, /^TypeError: ids is a view of a detached ArrayBuffer/)
  t.regex(out.zeroB, /^RangeError: B must be a positive integer, got 0/)
  t.regex(out.outside, /^RangeError: ids\[1\] = 50 is outside the vocabulary \[0, 50\)/)
  t.regex(out.negativeLength, /^RangeError: lengths\[0\] = -1 runs past the end of ids/)
  t.regex(out.keepDetached, /^TypeError: keep is a view of a detached ArrayBuffer/)
  t.regex(out.hugeMaxNew, /^RangeError: options\.maxNewTokens must be an integer in \[1, 1048576\], got 1099511627776/)
})
