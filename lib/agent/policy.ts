/**
 * The generation contract between the rollout loop and a policy (lib/model implements it; tests use scripted ones).
 * Kept identical to lib/model/generation.ts; the two are merged into one module when both land.
 */
export interface TokenizerLike {
  encode(text: string): number[]
  decode(ids: number[]): string
  readonly eosId: number
  readonly padId: number
}

export interface GenerateOptions {
  maxNewTokens: number
  stop?: string[]
  temperature?: number
  topP?: number
  topK?: number
  seed?: number
}

export interface Generation {
  tokens: number[]
  logprobs: number[]
  text: string
  finish: 'stop' | 'eos' | 'length'
  stopString?: string
}

export interface GenerationPolicy {
  readonly tokenizer: TokenizerLike
  /** Continues each token sequence (batched, different lengths) until a stop string (included in text/tokens), EOS or maxNewTokens. */
  generate(sequences: number[][], opts: GenerateOptions): Promise<Generation[]>
}
