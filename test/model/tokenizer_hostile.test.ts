// Issue 22 for the model's files: B9 (a chat template cannot kill or hang Node), B10 (a tokenizer regex that
// backtracks forever is refused at load, naming the field), B12 (config.json's numbers are finite and in range before
// allocation), B17 (a piece without a token id is refused, not read as id 0), and Policy.load checks the tokenizer
// against vocab_size as Policy.create does. Crashes and hangs are probed in child processes bounded in time.
import test from 'ava'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildWordLevelTokenizer, configFromHf, Tokenizer, wordLevelTokenizerConfig } from '../../lib/index.js'
import { Policy } from '../../lib/model/policy.js'
import { describeChild, REPO, runChild } from '../helpers/run_child.js'
import { CORPUS, tempDir, tinyPolicy } from './fixtures.js'

/** Runs `body` (with `tok`, a word-level Tokenizer whose chat_template is `template`) in a child; its last JSON line. */
function templateInChild(t: import('ava').ExecutionContext, template: string): string {
  const r = runChild(
    `
import { Tokenizer, buildWordLevelTokenizer, wordLevelTokenizerConfig } from '${REPO}/lib/index.js'
const tok = new Tokenizer(buildWordLevelTokenizer(['a b c']), { ...wordLevelTokenizerConfig(), chat_template: ${JSON.stringify(template)} })
try { const s = tok.applyChatTemplate([{ role: 'user', content: 'hi' }]); console.log(JSON.stringify('rendered ' + s.length)) }
catch (e) { console.log(JSON.stringify((e as Error).name + ': ' + (e as Error).message)) }`,
    60_000,
  )
  t.is(r.status, 0, describeChild(r))
  const lines = r.stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as string
}

test('B9: a chat template looping a billion times is a clear error, not a fatal V8 abort', (t) => {
  t.is(
    templateInChild(t, '{% for i in range(1000000000) %}x{% endfor %}'),
    'ChatTemplateError: chat template: range() of 1000000000 items, more than the 65536 a template may loop over (maxRange)',
  )
})

test('B9: nested loops are stopped by the time bound, output or not', (t) => {
  t.regex(templateInChild(t, '{% for i in range(60000) %}{% for j in range(60000) %}x{% endfor %}{% endfor %}'), /^ChatTemplateError: chat template: (rendering ran past 2000 ms \(timeoutMs\)|the rendered text grew past)/)
  t.is(
    templateInChild(t, '{% for i in range(60000) %}{% for j in range(60000) %}{% endfor %}{% endfor %}'),
    'ChatTemplateError: chat template: rendering ran past 2000 ms (timeoutMs) and was stopped; the template loops too long',
  )
})

test('B9: an ordinary template renders as before, and range() keeps its meaning', (t) => {
  const tok = new Tokenizer(buildWordLevelTokenizer(CORPUS), { ...wordLevelTokenizerConfig(), chat_template: '{% for i in range(1, 10, 3) %}{{ i }},{% endfor %}{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}|{{ messages[0].content }}' })
  t.is(tok.applyChatTemplate([{ role: 'user', content: 'hi' }]), '1,4,7,321|hi')
  const plain = new Tokenizer(buildWordLevelTokenizer(CORPUS), wordLevelTokenizerConfig())
  t.is(plain.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }), 'user : hi <|endoftext|> assistant : ')
})

/** A tokenizer folder whose pre-tokenizer splits on `pattern` (besides the word-level model). */
function folderWithSplit(pattern: string): string {
  const dir = tempDir('hiexp-regex-')
  const json = buildWordLevelTokenizer(CORPUS)
  json.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }, json.pre_tokenizer] }
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json))
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(wordLevelTokenizerConfig()))
  return dir
}

test('B10: a pre-tokenizer pattern with catastrophic backtracking is refused at load, naming the field', (t) => {
  const dir = folderWithSplit('(a+)+$')
  const r = runChild(
    `
import { Tokenizer } from '${REPO}/lib/index.js'
try { const tok = await Tokenizer.fromDir(${JSON.stringify(dir)}); tok.encode('a'.repeat(40) + '!'); console.log(JSON.stringify('encoded')) }
catch (e) { console.log(JSON.stringify((e as Error).name + ': ' + (e as Error).message)) }`,
    60_000,
  )
  t.is(r.status, 0, describeChild(r))
  t.regex(
    JSON.parse(r.stdout.trim().split('\n').at(-1)!),
    /^RangeError: .*tokenizer\.json: pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex "\(a\+\)\+\$" did not finish matching test strings of repeated characters within 3000 ms \(catastrophic backtracking/,
  )
})

test('B10: ordinary patterns (GPT-2 / Qwen2 splitting) load and encode', async (t) => {
  const qwen = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
  const tok = await Tokenizer.fromDir(folderWithSplit(qwen))
  t.true(tok.encode('the cat sat').length >= 3)
})

test('B17: a Unigram tokenizer without an unknown token refuses a piece it cannot spell instead of giving null ids', (t) => {
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: null, vocab: [['<|endoftext|>', 0], ['▁', -1], ['a', -2], ['b', -2], ['▁a', -1.5]], byte_fallback: false },
  }
  const tok = new Tokenizer(json, { eos_token: '<|endoftext|>' })
  t.true(tok.encode('a b').every((id) => Number.isInteger(id)))
  const e = t.throws(() => tok.encode('a z'), { instanceOf: RangeError })
  t.regex(e!.message, /^tokenizer: ".*" \(piece \d+ of the text\) has no token id, and the tokenizer has no unknown token to map it to/)
})

const QWEN_CONFIG = {
  model_type: 'qwen2', vocab_size: 64, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1,
  rms_norm_eps: 1e-6, rope_theta: 1e6, max_position_embeddings: 128,
}

test('B12: config.json numbers that would make NaN scores are refused before anything is allocated', (t) => {
  t.notThrows(() => configFromHf(QWEN_CONFIG))
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ rope_theta: 1e-300 }, /^config\.json: rope_theta: must be a finite number >= 1 \(the RoPE base; Qwen2 uses 1e6\)$/],
    [{ rope_theta: 0.5 }, /rope_theta: must be a finite number >= 1/],
    [{ rope_theta: JSON.parse('1e999') }, /rope_theta: Number must be finite/],
    [{ rms_norm_eps: 1e-300 }, /rms_norm_eps: must be in \[1e-12, 1\]/],
    [{ rms_norm_eps: 2 }, /rms_norm_eps: must be in \[1e-12, 1\]/],
    [{ initializer_range: JSON.parse('1e999') }, /initializer_range: Number must be finite/],
    [{ eos_token_id: [3, 64] }, /^config\.json: token id 64 \(bos_token_id \/ eos_token_id\) is outside the vocabulary \[0, 63\] \(vocab_size 64\)$/],
    [{ bos_token_id: -1 }, /token id -1 .* is outside the vocabulary/],
  ]
  for (const [change, re] of cases) t.throws(() => configFromHf({ ...QWEN_CONFIG, ...change }), { message: re }, JSON.stringify(change))
})

test('Policy.load refuses a tokenizer larger than config.json\'s vocab_size, as Policy.create does', async (t) => {
  const dir = tempDir()
  await (await tinyPolicy(3)).save(dir)
  const path = join(dir, 'config.json')
  const config = JSON.parse(readFileSync(path, 'utf8'))
  writeFileSync(path, JSON.stringify({ ...config, vocab_size: 5 }))
  const e = await t.throwsAsync(Policy.load(dir), { instanceOf: RangeError })
  t.regex(e!.message, /config\.json: vocab_size \(5\) is smaller than the tokenizer's vocabulary \(\d+ ids\)/)
  mkdirSync(join(dir, 'unused'), { recursive: true })
})
