// Reads ava's TAP output (`ava --tap`), so that gpu-check can tell a passed CUDA test from one that was skipped: the
// CUDA and NCCL tests skip themselves where no GPU is seen, and a skip on a GPU machine is a failure of the check.

export interface TapTest {
  /** ava's title: with several files, the file's path parts then the test's title, joined by ' › '. */
  title: string
  ok: boolean
  skip: boolean
  todo: boolean
}

const LINE = /^(not ok|ok) \d+ - (.*?)(?:\s+# (SKIP|TODO)\b.*)?$/

export function parseTap(text: string): TapTest[] {
  const tests: TapTest[] = []
  for (const line of text.split('\n')) {
    const m = LINE.exec(line.trimEnd())
    if (!m) continue
    tests.push({ title: m[2], ok: m[1] === 'ok', skip: m[3] === 'SKIP', todo: m[3] === 'TODO' })
  }
  return tests
}

/** A set of tests that must have run: at least `min` tests whose title matches. */
export interface RequiredTests {
  what: string
  title: RegExp
  min: number
}

export interface TapVerdict {
  ok: boolean
  passed: number
  skipped: number
  failed: number
  problems: string[]
}

/** Every test must pass and none may be skipped; each required set must be present with its minimum count. */
export function requireRun(tests: TapTest[], required: RequiredTests[]): TapVerdict {
  const problems: string[] = []
  for (const t of tests) {
    if (!t.ok) problems.push(`failed: ${t.title}`)
    else if (t.skip) problems.push(`skipped (no GPU seen by this build?): ${t.title}`)
    else if (t.todo) problems.push(`todo, not a real test: ${t.title}`)
  }
  for (const r of required) {
    const n = tests.filter((t) => r.title.test(t.title)).length
    if (n < r.min) problems.push(`${r.what}: expected at least ${r.min} test(s) matching ${r.title}, found ${n}`)
  }
  return {
    ok: problems.length === 0 && tests.length > 0,
    passed: tests.filter((t) => t.ok && !t.skip && !t.todo).length,
    skipped: tests.filter((t) => t.skip).length,
    failed: tests.filter((t) => !t.ok).length,
    problems: tests.length === 0 ? ['ava reported no tests at all', ...problems] : problems,
  }
}
