// What a training run works on: questions, a retriever and a policy, from the generated world (the embedded default)
// or from a user's Search-R1 files, corpus or retrieval server, and checkpoint.
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promptVocabularyTexts, DEFAULT_TEMPLATE } from '../agent/prompt.js'
import { generateArithmetic, type ArithmeticOptions } from '../env/arithmetic.js'
import { generateWorld, worldTexts, type WorldOptions } from '../env/world.js'
import { loadCorpusJsonl } from '../env/corpus.js'
import { loadQaDataset } from '../env/searchr1.js'
import type { QaExample } from '../env/types.js'
import { analyzerVocabularyTexts } from '../experience/analyzer.js'
import { adviceVocabularyTexts } from '../experience/advice.js'
import { tinyConfig } from '../model/config.js'
import { Policy } from '../model/policy.js'
import { Tokenizer } from '../model/tokenizer.js'
import { Bm25Retriever } from '../search/bm25.js'
import { HttpRetriever } from '../search/http.js'
import type { Retriever } from '../search/types.js'
import type { ResolvedTrainConfig } from './config.js'

export interface Task {
  train: QaExample[]
  validation: QaExample[]
  test: QaExample[]
  retriever: Retriever
  /** Texts a from-scratch tokenizer is built from (corpus, questions, prompt template). */
  vocabularyTexts: string[]
  /**
   * What HiExp's embedder learns its space from besides the experiences: the corpus passages (when local) and the
   * train questions, the texts retrieval compares (docs/method.md §1).
   */
  fitTexts: string[]
}

export interface LoadTaskOptions {
  /** The search tool's retriever, instead of the one the task block configures. */
  retriever?: Retriever
}

export async function loadTask(config: ResolvedTrainConfig, options: LoadTaskOptions = {}): Promise<Task> {
  const t = config.task
  const template = (config.rollout.template as string | undefined) ?? DEFAULT_TEMPLATE
  const topk = (config.rollout.topk as number | undefined) ?? 3
  if (t.kind === 'world' || t.kind === 'arithmetic') {
    const world = generateWorld({ seed: config.seed, ...(t.world as WorldOptions) })
    const shared = [...worldTexts(world), ...promptVocabularyTexts(template, topk), ...analyzerVocabularyTexts(), ...adviceVocabularyTexts()]
    const retriever = options.retriever ?? Bm25Retriever.build(world.corpus)
    const passages = world.corpus.map((p) => p.contents)
    if (t.kind === 'world') return { ...world.questions, retriever, vocabularyTexts: shared, fitTexts: [...passages, ...world.questions.train.map((q) => q.question)] }
    // The vocabulary keeps the world's words, so that experiences distilled on multi-hop questions stay readable here.
    const problems = generateArithmetic({ seed: config.seed, ...(t.arithmetic as ArithmeticOptions) })
    const all = [...problems.train, ...problems.validation, ...problems.test]
    return { ...problems, retriever, vocabularyTexts: [...shared, ...all.flatMap((q) => [q.question, ...q.goldAnswers])], fitTexts: [...passages, ...problems.train.map((q) => q.question)] }
  }
  if (!t.trainFile) throw new RangeError("train config: task.trainFile is required when task.kind is 'searchr1'")
  for (const key of ['trainFile', 'validationFile', 'testFile', 'corpusFile'] as const) {
    const file = t[key]
    if (file !== undefined && !existsSync(file)) throw new RangeError(`train config: task.${key}: cannot read ${resolve(file)}: no such file`)
  }
  const load = (file?: string) => (file ? loadQaDataset(file) : Promise.resolve([]))
  const [train, validation, test] = await Promise.all([load(t.trainFile), load(t.validationFile), load(t.testFile)])
  let retriever: Retriever
  let corpusTexts: string[] = []
  if (options.retriever) {
    retriever = options.retriever
  } else if (t.retrieverUrl) {
    retriever = new HttpRetriever({ url: t.retrieverUrl })
  } else if (t.corpusFile) {
    const corpus = await loadCorpusJsonl(t.corpusFile)
    retriever = Bm25Retriever.build(corpus)
    corpusTexts = corpus.map((p) => p.contents)
  } else {
    throw new RangeError("train config: task.kind 'searchr1' needs task.corpusFile or task.retrieverUrl (or a retriever passed to Trainer.create)")
  }
  return {
    train,
    validation,
    test,
    retriever,
    vocabularyTexts: [...corpusTexts, ...train.map((q) => `${q.question} ${q.goldAnswers.join(' ')}`), ...promptVocabularyTexts(template, topk)],
    fitTexts: [...corpusTexts, ...train.map((q) => q.question)],
  }
}

/** The policy a run starts from: a user's checkpoint, or a tiny one initialised at random on a word-level vocabulary. */
export async function initialPolicy(config: ResolvedTrainConfig, task: Task): Promise<Policy> {
  const p = config.policy
  if (p.checkpoint) return Policy.load(p.checkpoint, { device: p.device, dtype: p.dtype })
  const tokenizer = Tokenizer.wordLevel(task.vocabularyTexts)
  const cfg = tinyConfig(tokenizer.vocabSize, { ...p.tiny, headDim: p.tiny.hiddenSize / p.tiny.numHeads })
  return Policy.create(cfg, tokenizer, { device: p.device, dtype: p.dtype, seed: config.seed })
}

export const CHECKPOINT_DIR = 'checkpoint'
export const checkpointDir = (outDir: string) => join(outDir, CHECKPOINT_DIR)
