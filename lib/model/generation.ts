// The contract between a policy and the rollout loop (lib/agent): the agent only ever sees this interface.

/** What the agent needs of a tokenizer. */
export interface TokenizerLike {
  encode(text: string): number[]
  decode(ids: number[]): string
  readonly eosId: number
  readonly padId: number
  /** Renders chat messages through the checkpoint's chat template (rollout.chat other than 'none'). */
  applyChatTemplate?(messages: Array<{ role: string; content: string }>, opts?: { addGenerationPrompt?: boolean }): string
  /** false when the tokenizer has no chat template. */
  readonly hasChatTemplate?: boolean
}

export interface GenerateOptions {
  /** New tokens per sequence at most. */
  maxNewTokens: number
  /** Stop strings (e.g. '</search>', '</answer>'), checked per sequence on the decoded text; the stop string is kept. */
  stop?: string[]
  /** Default 1; 0 is greedy. */
  temperature?: number
  /** Nucleus sampling mass in (0, 1]; default 1 (off). */
  topP?: number
  /** Keep the k most likely tokens; default 0 (off). */
  topK?: number
  /** Seed of this call's sampler: the same seed, weights and sequences give the same tokens. Default: the policy's RNG. */
  seed?: number
}

export interface Generation {
  /** New token ids (the stop string's or EOS token included). */
  tokens: number[]
  /**
   * logprobs[i] = log p(tokens[i] | sequence, tokens[<i]) under the current weights at temperature 1 with no top-p/top-k
   * truncation: the number score() returns for the same token (not the log-prob of the tempered, truncated sampler).
   */
  logprobs: number[]
  /** decode(tokens), special tokens kept (the EOS token excluded). */
  text: string
  finish: 'stop' | 'eos' | 'length'
  /** The stop string that ended the generation when finish is 'stop'. */
  stopString?: string
}

export interface GenerationPolicy {
  readonly tokenizer: TokenizerLike
  /** Continues each token sequence (batched, different lengths) until a stop string (included in text/tokens), EOS or maxNewTokens. */
  generate(sequences: number[][], opts: GenerateOptions): Promise<Generation[]>
}
