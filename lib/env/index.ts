export type { QaExample, Splits } from './types.js'
export {
  generateWorld,
  worldVocabulary,
  worldTexts,
  WorldOptionsSchema,
  type World,
  type WorldOptions,
  type ResolvedWorldOptions,
  type Entity,
  type EntityKind,
  type Fact,
  type RelationName,
} from './world.js'
export { generateArithmetic, ArithmeticOptionsSchema, type ArithmeticOptions } from './arithmetic.js'
export { loadQaDataset, loadQaJson, loadQaJsonl, loadQaParquet, qaFromRow, type LoadQaOptions } from './searchr1.js'
export { loadCorpusJsonl, type LoadCorpusOptions } from './corpus.js'
export { DataFormatError } from './errors.js'
export { saveSearchR1Layout, qaToRow } from './save.js'
export {
  PHRASING_NOUNS,
  WARM_START_WORDS,
  nounPhrasing,
  phrasingTable,
  phraseChain,
  hopForRelation,
  type Phrasing,
  type PhrasingOptions,
} from './world_phrasings.js'
