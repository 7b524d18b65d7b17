// libtorch logs through glog, which a Node.js process never initialises: its first warning came with "WARNING:
// Logging before InitGoogleLogging() is written to STDERR" (hiexp bench: index_reduce's beta warning). The loader
// keeps glog to errors unless GLOG_minloglevel is set (lib/native/loader.ts).
import test from 'ava'
import { describeChild, REPO, runChild } from '../helpers/run_child.js'

const PROBE = `import { groupAdvantagesTorch } from '${REPO}/lib/ops/rl/advantages.js'
console.log(groupAdvantagesTorch(Float32Array.from([1, 0, 1, 1]), { groupSize: 2 }).length)`

test('an op that makes libtorch warn prints no glog preamble by default; GLOG_minloglevel=0 shows libtorch\'s warnings again', (t) => {
  const saved = process.env.GLOG_minloglevel
  delete process.env.GLOG_minloglevel
  try {
    const quiet = runChild(PROBE)
    t.is(quiet.status, 0, describeChild(quiet))
    t.is(quiet.stdout.trim(), '4')
    t.notRegex(quiet.stderr, /Logging before InitGoogleLogging|index_reduce/)
    process.env.GLOG_minloglevel = '0'
    const loud = runChild(PROBE)
    t.is(loud.status, 0, describeChild(loud))
    t.regex(loud.stderr, /index_reduce\(\) is in beta/)
  } finally {
    if (saved === undefined) delete process.env.GLOG_minloglevel
    else process.env.GLOG_minloglevel = saved
  }
})
