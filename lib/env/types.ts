/**
 * One question with its gold answers, the common shape of every task family (the generated world, arithmetic word
 * problems, Search-R1 data sets). Optional fields are known only for generated data.
 */
export interface QaExample {
  id: string
  question: string
  /** Any of these counts as correct (after answer normalisation). */
  goldAnswers: string[]
  /** Where it comes from: 'hiexp-world', 'hiexp-arithmetic', or a Search-R1 data_source such as 'nq'. */
  dataSource: string
  /** Task family, used to file experiences by kind of task: 'multihop' | 'arithmetic' | 'qa'. */
  taskType: string
  /** Number of reasoning hops (relations followed, or arithmetic steps). */
  hops?: number
  /** Gold evidence chain: the passage ids that state each hop, in order. */
  evidence?: string[]
  /** Names of the entities along the chain, from the one named in the question to the answer. */
  chain?: string[]
  /** Relations followed, in order (for example ['founded_by', 'born_in']). */
  relations?: string[]
  /** Phrasing of each hop (`${hop}/${word}`), for a world generated with the phrasings option. */
  phrasings?: string[]
  /** Some hop is asked in a phrasing held out of the warm start (phrasings option). */
  heldOutPhrasing?: boolean
}

export interface Splits<T> {
  train: T[]
  validation: T[]
  test: T[]
}
