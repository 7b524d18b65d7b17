// The RL kernels' bindings read and check every argument before they take a pointer: a getter that transfers or
// shrinks a buffer the call already holds is refused with a message, never a read of freed memory. Each probe runs in
// a child process, so that a crash fails the test instead of killing the runner.
import test from 'ava'
import { FAILURE_HELPER, probeChild, REPO } from '../../helpers/run_child.js'

const PRELUDE = `
import * as hx from '${REPO}/lib/index.js'
${FAILURE_HELPER}
const transfer = (a: ArrayBufferView) => structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] })
const N = 1 << 20, B = 1 << 8, T = N / B
const make = () => ({ logp: new Float32Array(N).fill(-1), oldLogp: new Float32Array(N).fill(-1), advantages: new Float32Array(B).fill(1), mask: new Uint8Array(N).fill(1), B, T })
/** obj with a getter on key that runs effect first. */
const withGetter = <T extends object>(obj: T, key: string, effect: () => void, value: unknown): T =>
  Object.defineProperty(obj, key, { enumerable: true, get() { effect(); return value } })
`

test('policyLoss: getters that transfer or shrink a batch array (batch.refLogp, output.out, options.algorithm) are refused', (t) => {
  const out = probeChild(t, `${PRELUDE}
const a = make(), b = make(), c = make(), d = make()
const rab = new ArrayBuffer(N * 4, { maxByteLength: N * 4 })
const shrinking = { ...make(), logp: new Float32Array(rab).fill(-1) }
console.log(JSON.stringify({
  refGetter: await failure(() => hx.policyLoss(withGetter(a, 'refLogp', () => transfer(a.logp), undefined), {})),
  resized: await failure(() => hx.policyLoss(withGetter(shrinking, 'refLogp', () => rab.resize(0), undefined), {})),
  outGetter: await failure(() => hx.policyLoss(b, {}, withGetter({}, 'out', () => transfer(b.logp), new Float32Array(N)))),
  algorithm: await failure(() => hx.policyLoss(c, withGetter({}, 'algorithm', () => transfer(c.oldLogp), 'grpo'))),
  torchOps: await failure(() => hx.policyLossTorch(d, withGetter({}, 'algorithm', () => transfer(d.logp), 'grpo'))),
}))`)
  t.is(out.refGetter, 'TypeError: batch.logp is a view of a detached ArrayBuffer (transferred away); pass an array that owns its memory')
  t.is(out.resized, 'RangeError: batch.logp has length 0, expected 1048576')
  t.regex(out.outGetter, /^TypeError: batch\.logp is a view of a detached ArrayBuffer/)
  t.regex(out.algorithm, /^TypeError: batch\.oldLogp is a view of a detached ArrayBuffer/)
  t.regex(out.torchOps, /^TypeError: batch\.logp is a view of a detached ArrayBuffer/)
})

test('groupAdvantages: a getter on estimator that shrinks the rewards buffer is refused', (t) => {
  const out = probeChild(t, `${PRELUDE}
const rab = new ArrayBuffer(16, { maxByteLength: 16 })
const rewards = new Float32Array(rab)
rewards.set([1, 0, 1, 0])
const kept = Float32Array.from([1, 0, 1, 0])
console.log(JSON.stringify({
  shrunk: await failure(() => hx.groupAdvantages(rewards, withGetter({ groupSize: 2 }, 'estimator', () => rab.resize(0), 'grpo'))),
  transferred: await failure(() => hx.groupAdvantages(kept, withGetter({ groupSize: 2 }, 'estimator', () => transfer(kept), 'grpo'))),
}))`)
  t.is(out.shrunk, 'RangeError: rewards must hold at least one reward')
  t.regex(out.transferred, /^TypeError: rewards is a view of a detached ArrayBuffer/)
})
