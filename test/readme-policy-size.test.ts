// Defect 9 of issue 21: README stated a ~4M-parameter policy for the comparisons, whose configurations use the run
// config's tiny size (hidden 128, 2 layers). The size README states for its results is computed here from each
// comparison configuration (its world's vocabulary and its policy block), independently of README's wording.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parameterCount, tinyConfig } from '../lib/model/config.js'
import { Tokenizer } from '../lib/model/tokenizer.js'
import { loadTrainConfig } from '../lib/train/config.js'
import { loadTask } from '../lib/train/task.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

test("README's results state the comparison policy's size as its configurations make it", async (t) => {
  const stated = /policy of ([0-9.]+)M parameters \(hidden (\d+), (\d+) layers\)/.exec(README)
  t.truthy(stated, 'README states the policy size of its results')
  for (const file of ['compare.json', 'exploration-limited.json', 'bottleneck.json']) {
    const config = loadTrainConfig(join(ROOT, 'examples', 'configs', file))
    const task = await loadTask(config)
    const vocab = Tokenizer.wordLevel(task.vocabularyTexts).vocabSize
    const tiny = config.policy.tiny
    const n = parameterCount(tinyConfig(vocab, { ...tiny, headDim: tiny.hiddenSize / tiny.numHeads }))
    t.is((n / 1e6).toFixed(2), stated![1], `${file}: ${n} parameters`)
    t.is(String(tiny.hiddenSize), stated![2])
    t.is(String(tiny.numLayers), stated![3])
  }
})
