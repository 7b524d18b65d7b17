// verl's parquet layout (its examples/data_preprocess scripts): a chat-style `prompt` list, `reward_model` with a
// `ground_truth` (a string, a list, or Search-R1's `{ target }`), `data_source` and `extra_info`.
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parquetWriteFile } from 'hyparquet-writer'
import { loadQaDataset } from '../../lib/env/index.js'

test("verl's layout loads: the question from extra_info or the user message, the answers from reward_model.ground_truth", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hiexp-verl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'train.parquet')
  parquetWriteFile({
    filename: file,
    columnData: [
      { name: 'data_source', data: ['hotpotqa', 'musique', 'nq'], type: 'STRING' },
      {
        name: 'prompt',
        data: [
          [{ role: 'system', content: 'You are a search agent.' }, { role: 'user', content: 'Which city was Ada born in?' }],
          [{ role: 'user', content: 'Answer the given question. ... Question: who directed y?\n' }],
          [{ role: 'user', content: 'ignored: extra_info.question wins' }],
        ],
      },
      { name: 'ability', data: ['fact-reasoning', 'fact-reasoning', 'fact-reasoning'], type: 'STRING' },
      {
        name: 'reward_model',
        data: [
          { style: 'rule', ground_truth: 'Kelmar' },
          { style: 'rule', ground_truth: ['Vera Ilse', 'V. Ilse'] },
          { style: 'rule', ground_truth: { target: ['Z'] } },
        ],
      },
      {
        name: 'extra_info',
        data: [
          { split: 'train', index: 0 },
          { split: 'train', index: 1 },
          { split: 'train', index: 2, question: 'who is z?', answer: 'Z' },
        ],
      },
    ],
  })
  t.deepEqual(await loadQaDataset(file), [
    { id: '0', question: 'Which city was Ada born in?', goldAnswers: ['Kelmar'], dataSource: 'hotpotqa', taskType: 'qa' },
    { id: '1', question: 'who directed y?', goldAnswers: ['Vera Ilse', 'V. Ilse'], dataSource: 'musique', taskType: 'qa' },
    { id: '2', question: 'who is z?', goldAnswers: ['Z'], dataSource: 'nq', taskType: 'qa' },
  ])
})
