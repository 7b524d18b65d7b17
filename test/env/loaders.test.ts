import test from 'ava'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parquetWriteFile } from 'hyparquet-writer'
import { DataFormatError, loadCorpusJsonl, loadQaDataset } from '../../lib/env/index.js'

const dir = mkdtempSync(join(tmpdir(), 'hiexp-loaders-'))
const write = (name: string, lines: string[]) => {
  const file = join(dir, name)
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

test('Search-R1 JSONL question sets load', async (t) => {
  const file = write('nq.jsonl', [
    JSON.stringify({ id: 'test_0', question: 'who wrote x?', golden_answers: ['A', 'B'], data_source: 'nq' }),
    '',
    JSON.stringify({ question: ' where is y? ', golden_answers: ['C'] }),
  ])
  const qs = await loadQaDataset(file)
  t.deepEqual(qs, [
    { id: 'test_0', question: 'who wrote x?', goldAnswers: ['A', 'B'], dataSource: 'nq', taskType: 'qa' },
    { id: 'nq-1', question: 'where is y?', goldAnswers: ['C'], dataSource: 'nq', taskType: 'qa' },
  ])
  t.is((await loadQaDataset(file, { limit: 1 })).length, 1)
  const array = write('set.json', [JSON.stringify([{ question: 'q', golden_answers: ['a'] }, { question: 'r', golden_answers: [1] }])])
  await t.throwsAsync(loadQaDataset(array), { message: /set\.json:2: field "golden_answers\[0\]": expected a string, got number/ })
})

test('parquet question sets load, in both the raw and the processed Search-R1 layouts', async (t) => {
  const raw = join(dir, 'raw.parquet')
  parquetWriteFile({
    filename: raw,
    columnData: [
      { name: 'id', data: ['a', 'b'], type: 'STRING' },
      { name: 'question', data: ['q one', 'q two'], type: 'STRING' },
      { name: 'golden_answers', data: [['x'], ['y', 'z']] },
      { name: 'data_source', data: ['hotpotqa', 'hotpotqa'], type: 'STRING' },
    ],
  })
  t.deepEqual(await loadQaDataset(raw), [
    { id: 'a', question: 'q one', goldAnswers: ['x'], dataSource: 'hotpotqa', taskType: 'qa' },
    { id: 'b', question: 'q two', goldAnswers: ['y', 'z'], dataSource: 'hotpotqa', taskType: 'qa' },
  ])
  const processed = join(dir, 'train.parquet')
  parquetWriteFile({
    filename: processed,
    columnData: [
      { name: 'data_source', data: ['nq'], type: 'STRING' },
      { name: 'prompt', data: [[{ role: 'user', content: 'Answer the given question. ... Question: who is z?\n' }]] },
      { name: 'reward_model', data: [{ style: 'rule', ground_truth: { target: ['Z'] } }] },
      { name: 'extra_info', data: [{ split: 'train', index: 4 }] },
    ],
  })
  t.deepEqual(await loadQaDataset(processed), [{ id: '4', question: 'who is z?', goldAnswers: ['Z'], dataSource: 'nq', taskType: 'qa' }])

  const bad = join(dir, 'bad.parquet')
  parquetWriteFile({
    filename: bad,
    columnData: [
      { name: 'question', data: ['fine', 'also fine'], type: 'STRING' },
      { name: 'golden_answers', data: [['x'], []] },
    ],
  })
  const err = await t.throwsAsync(loadQaDataset(bad), { instanceOf: DataFormatError })
  t.is(err!.message, `${bad}:2: field "golden_answers": expected a non-empty array of strings, got an array`)
})

test('malformed question rows name the file, the line and the field', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['{"question": "q", "golden_answers": ["a"]}\n{"question": 3, "golden_answers": ["a"]}', /bad1\.jsonl:2: field "question": expected a non-empty string, got number/],
    ['{"question": "q", "golden_answers": "a"}', /:1: field "golden_answers": expected a non-empty array of strings, got the string "a"/],
    ['{"question": "q", "golden_answers": ["a", 7]}', /:1: field "golden_answers\[1\]": expected a string, got number/],
    ['{"question": "q", "golden_answers": ["a"]}\n\n{"question": "q"', /:3: not valid JSON/],
    ['["q", ["a"]]', /:1: expected an object, got an array/],
    ['{"question": "q", "golden_answers": ["a"], "data_source": 5}', /field "data_source": expected a string/],
  ]
  for (const [i, [body, message]] of cases.entries()) {
    const file = write(`bad${i + 1}.jsonl`, [body])
    await t.throwsAsync(loadQaDataset(file), { instanceOf: DataFormatError, message })
  }
  await t.throwsAsync(loadQaDataset(join(dir, 'x.csv')), { message: /unknown extension ".csv"/ })
})

test('corpus JSONL loads, joins title/text rows, and rejects malformed rows by line and field', async (t) => {
  const file = write('corpus.jsonl', [
    JSON.stringify({ id: '0', contents: '"Alda Voss"\nAlda Voss was born in Kelmar.' }),
    JSON.stringify({ id: 1, title: 'Kelmar', text: 'Kelmar is a city.' }),
  ])
  t.deepEqual(await loadCorpusJsonl(file), [
    { id: '0', contents: '"Alda Voss"\nAlda Voss was born in Kelmar.' },
    { id: '1', contents: 'Kelmar\nKelmar is a city.' },
  ])
  const cases: Array<[string[], RegExp]> = [
    [['{"id": "0", "contents": "a"}', '{"id": "1", "contents": 5}'], /c1\.jsonl:2: field "contents": expected a string, got number/],
    [['{"contents": "a"}'], /c2\.jsonl:1: field "id": expected a string or a number, got undefined/],
    [['{"id": "0", "contents": "a"}', '{"id": "0", "contents": "b"}'], /c3\.jsonl:2: field "id": duplicate id "0" \(first on line 1\)/],
    [['{"id": "0", "contents": "a"', ''], /c4\.jsonl:1: not valid JSON/],
  ]
  for (const [i, [lines, message]] of cases.entries()) {
    await t.throwsAsync(loadCorpusJsonl(write(`c${i + 1}.jsonl`, lines)), { instanceOf: DataFormatError, message })
  }
})

test('a generated world saved in Search-R1 layout loads back identically', async (t) => {
  const { generateWorld } = await import('../../lib/env/world.js')
  const { saveSearchR1Layout } = await import('../../lib/env/save.js')
  const world = generateWorld({ seed: 4, questionsPerHop: 30 })
  const out = join(dir, 'world')
  const files = await saveSearchR1Layout(out, world)
  t.deepEqual(files.map((f) => f.slice(out.length + 1)), ['corpus.jsonl', 'train.jsonl', 'validation.jsonl', 'test.jsonl'])
  t.deepEqual(await loadCorpusJsonl(join(out, 'corpus.jsonl')), world.corpus)
  for (const split of ['train', 'validation', 'test'] as const) {
    t.deepEqual(await loadQaDataset(join(out, `${split}.jsonl`)), world.questions[split])
  }
})
