export {
  TrajectoryRecordSchema,
  TurnRecordSchema,
  ExperienceSchema,
  ExperienceKindSchema,
  groupTrajectories,
  type TrajectoryRecord,
  type TrajectoryRecordInput,
  type TurnRecord,
  type TrajectoryGroup,
  type Experience,
  type ExperienceKind,
  type Distiller,
} from './types.js'
export { TrajectoryStore, type TrajectoryStoreOptions, TrajectoryTail, readTrajectories, recordFromRollout, type RecordContext, type ReadOptions, type ReadResult } from './store.js'
export {
  contrastivePairs,
  contrastGroup,
  actionSequence,
  isSuccess,
  PairingOptionsSchema,
  type PairingOptions,
  type ContrastivePair,
  type GroupContrast,
} from './pairing.js'
export { FEATURES, featureContext, trajectoryFeatures, type Feature, type FeatureContext } from './features.js'
export { ContrastiveAnalyzer, AnalyzerOptionsSchema, analyzerVocabularyTexts, type AnalyzerOptions, type FeatureStats } from './analyzer.js'
export {
  OpenAIChatGenerator,
  OpenAIChatOptionsSchema,
  LlmEndpointError,
  policyTextGenerator,
  mapLimit,
  type TextGenerator,
  type CompleteOptions,
  type OpenAIChatOptions,
  type PolicyGeneratorOptions,
} from './generator.js'
export {
  PromptDistiller,
  llmDistiller,
  selfDistiller,
  renderTrajectory,
  fillTemplate,
  loadTemplate,
  promptTemplatePath,
  extractJson,
  parseReply,
  DistillReplySchema,
  NoValidReplyError,
  MAX_EXPERIENCES_PER_REPLY,
  type PromptDistillerOptions,
  type DistillStats,
  type ReplyProblem,
} from './llm.js'
export { BadReplyError, type BadReplyKind } from './reply.js'
export { sanitizeExperienceText, sanitizeExperienceField, stripControls, MAX_EXPERIENCE_TEXT_CHARS, MAX_EXPERIENCE_FIELD_CHARS } from './sanitize.js'
export { TfidfSvdEmbedder, OpenAIEmbedder, embedderFromState, cosine, type Embedder, type EmbedderState, type TfidfSvdOptions, type OpenAIEmbedderOptions, type EmbeddingEndpoint } from './embed.js'
export { offlineSummarizer, promptSummarizer, medoid, sharedTerms, type Summarizer, type ClusterInput, type ClusterSummary, type ClusterMember } from './summarize.js'
export {
  HierarchicalExperience,
  HekFileSchema,
  HekNodeSchema,
  HekOptionsSchema,
  HEK_FORMAT,
  HEK_VERSION,
  type HekFile,
  type HekNode,
  type HekOptions,
  type HekLoadOptions,
  type BuildStats,
  type RetrieveOptions,
  type Retrieval,
  type RetrievedItem,
} from './hek.js'
export { retrieveExperiences, retrieveForPrompt, retrieveForSearch, renderRetrieval, DEFAULT_HEADER, PROMPT_MIN_SIMILARITY, PROMPT_TOP_K, SEARCH_MIN_SIMILARITY, type HekIndex } from './retrieve.js'
export { roleForm, queryKey, questionKey, namesIn, QUESTION_ENTITY, FOUND_NAME, OTHER_NAME, stepName, type RoleContext } from './roles.js'
export { retrievalPrecision, precisionStats, relationsNamed, type RetrievalPrecision } from './precision.js'
export { formatHek, hekTreeSvg, hekDendrogramSvg, writeHekPictures, type FormatOptions, type HekPictureOptions } from './show.js'
export { whitespaceTokens } from './text.js'
export { HekExperienceSource, NoExperienceError, buildHek, collectTrajectories, distillerFor, type CollectHooks, type ExperienceSource } from './source.js'
export { shuffledHek } from './shuffle.js'
export { adviceLine, adviceFor, renderAdvice, roleOf, queryWordOf, PhrasingOracleSource, type AdviceStep } from './advice.js'
