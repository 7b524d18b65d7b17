import test from 'ava'
import { Resvg } from '@resvg/resvg-js'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { renderPrompt } from '../../lib/agent/prompt.js'
import { HierarchicalExperience } from '../../lib/experience/hek.js'
import {
  boundLength,
  MAX_EXPERIENCE_TEXT_CHARS,
  promptData,
  sanitizeExperienceText,
  stripControls,
} from '../../lib/experience/sanitize.js'
import { formatHek, hekDendrogramSvg, hekTreeSvg } from '../../lib/experience/show.js'
import { ExperienceSchema, type Experience } from '../../lib/experience/types.js'
import { sampleExperiences } from './helpers.js'

// Every kind of hostile character the cleaner must drop: a colour (CSI), a window-title write (OSC, BEL-terminated),
// a terminal reset (ESC c), an 8-bit CSI, NUL/BEL/backspace, DEL, a right-to-left override, a lone surrogate half.
const HOSTILE = 'Search \x1b[31mthe\x1b[0m entity\x1b]0;owned\x07 first\x1bc,\x9b2J then \x00\x07\x08answer\x7f \u202eright\ud800.'
const ESCAPE_OR_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/

test('terminal escapes and control characters are dropped; text, newlines and tabs are kept', (t) => {
  t.is(stripControls(HOSTILE), 'Search the entity first, then answer right\ufffd.')
  t.is(stripControls('a\tb\nc'), 'a\tb\nc')
  // An unterminated OSC loses only its introducer, not the text after it.
  t.is(stripControls('\x1b]0;keep this'), '0;keep this')
  t.is(stripControls('ünïcode ✓ 😀'), 'ünïcode ✓ 😀', 'printable text and surrogate pairs are untouched')
})

test('experience text is one clean line, placeholders inert, bounded in length', (t) => {
  t.is(sanitizeExperienceText('  Use {question} and\n\n{experiences}\tagain  '), 'Use (question) and (experiences) again')
  const long = 'word '.repeat(1000)
  const cut = sanitizeExperienceText(long)
  t.is(cut.length, MAX_EXPERIENCE_TEXT_CHARS)
  t.true(cut.endsWith('…'))
  // A cut never leaves half of a surrogate pair.
  t.is(boundLength('ab😀cd', 4), 'ab…')
  t.is(boundLength('abc', 3), 'abc')
  // Prompt data cannot close its ``` fence.
  t.is(promptData('a ``` b ```` c\x1b[2J', 100), "a ''' b '''' c")
  t.is(promptData('x'.repeat(50), 10), `${'x'.repeat(9)}…`)
})

test('the experience schema cleans text on entry and names a field that is left empty', (t) => {
  const e = ExperienceSchema.parse({ ...sampleExperiences()[0], text: HOSTILE, when: 'any\x1b[1m question' })
  t.is(e.text, 'Search the entity first, then answer right\ufffd.')
  t.is(e.when, 'any question')
  const empty = ExperienceSchema.safeParse({ ...sampleExperiences()[0], text: '\x1b[31m\x00 ' })
  t.false(empty.success)
  t.is(empty.success ? '' : empty.error.issues[0].path.join('.'), 'text')
})

test('renderPrompt does not substitute a {question} written inside an experience', (t) => {
  // The raw slot text (as if it reached renderPrompt without the schema): still kept literally.
  const out = renderPrompt('{experiences}Question: {question}\n', { question: 'Who is Bob?', experiences: 'Restate {question} first.' })
  t.is(out, 'Restate {question} first.\nQuestion: Who is Bob?\n')
})

/** Experiences whose texts hold every hostile character (as a careless or malicious distiller writes them). */
function hostileExperiences(): Experience[] {
  return sampleExperiences().map((e, i) => (i % 3 === 0 ? { ...e, text: `${e.text} \x1b[31m\x01\x0b${HOSTILE}` } : e))
}

test('HEK pictures still parse when experiences held control characters', async (t) => {
  // The failure being fixed: an SVG text holding a control character is not XML, and resvg refuses it.
  t.throws(() => new Resvg('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>a\x01b</text></svg>'))
  const hek = await HierarchicalExperience.build(hostileExperiences())
  t.false(hek.nodes.some((n) => ESCAPE_OR_CONTROL.test(n.text)), 'build stores clean texts')
  // Even a node changed in memory after the build (no schema in between) draws to a valid SVG.
  hek.level(0)[0].text = `raw \x1b[2J\x01 text`
  for (const svg of [hekTreeSvg(hek, { title: 'hostile' }), hekDendrogramSvg(hek)]) {
    t.notRegex(svg, ESCAPE_OR_CONTROL)
    t.notThrows(() => new Resvg(svg).render())
  }
})

test('hiexp hek show prints no raw escape from a HEK file that holds them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-sanitize-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'hek.json')
  ;(await HierarchicalExperience.build(sampleExperiences())).save(file)
  // A file written by another tool (or edited by hand): raw escapes in a node's text and `when`.
  const json = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Array<{ text: string; when: string }> }
  json.nodes[0].text = `\x1b]0;pwned\x07\x1b[2J${json.nodes[0].text}\x1b[31m!`
  json.nodes[1].when = 'any \x9b31m question'
  writeFileSync(file, JSON.stringify(json))
  const loaded = await HierarchicalExperience.load(file)
  t.notRegex(formatHek(loaded), ESCAPE_OR_CONTROL)
  t.regex(formatHek(loaded), /: .*!/, 'the text itself is kept')
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import=tsx', new URL('../../lib/cli.ts', import.meta.url).pathname, 'hek', 'show', file],
    { timeout: 60_000 },
  )
  t.regex(stdout, /^HEK v2/)
  t.notRegex(stdout, ESCAPE_OR_CONTROL)
})
