/** Test doubles: a whitespace word tokenizer, a scripted policy that replays fixed turns, a recording retriever. */
import type { GenerateOptions, Generation, GenerationPolicy, TokenizerLike } from '../../lib/agent/policy.js'
import type { Passage, Retriever } from '../../lib/search/types.js'

/** Splits on whitespace; ids are given on first sight (0 = pad, 1 = eos). decode joins with single spaces. */
export class WordTokenizer implements TokenizerLike {
  readonly padId = 0
  readonly eosId = 1
  private readonly ids = new Map<string, number>([['<pad>', 0], ['<eos>', 1]])
  private readonly words = ['<pad>', '<eos>']
  id(word: string): number {
    let id = this.ids.get(word)
    if (id === undefined) {
      id = this.words.length
      this.ids.set(word, id)
      this.words.push(word)
    }
    return id
  }
  encode(text: string): number[] {
    return text.split(/\s+/).filter(Boolean).map((w) => this.id(w))
  }
  decode(ids: number[]): string {
    return ids.map((i) => this.words[i]).join(' ')
  }
}

/** Log-probability the scripted policy reports for a token: distinct per id, so alignment can be checked. */
export const lp = (id: number) => -id / 1000

export type Script = (sequence: string, row: number, call: number) => string

/**
 * Replays a script: each call, for each sequence, the script says what the policy "writes"; the text is cut at the
 * first stop string (finish 'stop'), at maxNewTokens ('length'), or ends with EOS appended ('eos').
 */
export class ScriptedPolicy implements GenerationPolicy {
  readonly tokenizer = new WordTokenizer()
  readonly calls: Array<{ sequences: string[]; opts: GenerateOptions }> = []
  constructor(private readonly script: Script) {}

  async generate(sequences: number[][], opts: GenerateOptions): Promise<Generation[]> {
    const call = this.calls.length
    const texts = sequences.map((s) => this.tokenizer.decode(s))
    this.calls.push({ sequences: texts, opts })
    return texts.map((seq, row) => {
      const words = this.tokenizer.encode(this.script(seq, row, call))
      const out: number[] = []
      for (const id of words) {
        if (out.length === opts.maxNewTokens) return this.gen(out, 'length')
        out.push(id)
        const w = this.tokenizer.decode([id])
        if (opts.stop?.includes(w)) return { ...this.gen(out, 'stop'), stopString: w }
      }
      if (out.length === opts.maxNewTokens) return this.gen(out, 'length')
      out.push(this.tokenizer.eosId)
      return this.gen(out, 'eos')
    })
  }

  private gen(tokens: number[], finish: Generation['finish']): Generation {
    return { tokens, logprobs: tokens.map(lp), text: this.tokenizer.decode(tokens), finish }
  }
}

/** Turn index of a sequence: how many searches it already made. */
export const turnOf = (sequence: string) => sequence.slice(sequence.indexOf('Question:')).split('</search>').length - 1

/** A script per question (matched by `Question: <q>` in the sequence), one text per turn. */
export function byQuestion(turns: Record<string, string[]>): Script {
  return (seq) => {
    const q = Object.keys(turns).find((k) => seq.includes(`Question: ${k}`))
    if (q === undefined) throw new Error(`no script for ${seq}`)
    return turns[q][Math.min(turnOf(seq), turns[q].length - 1)]
  }
}

export class FixedRetriever implements Retriever {
  readonly calls: Array<{ queries: string[]; topk: number }> = []
  constructor(private readonly answer: (query: string) => Passage[]) {}
  async search(queries: string[], topk: number): Promise<Passage[][]> {
    this.calls.push({ queries, topk })
    return queries.map((q) => this.answer(q).slice(0, topk))
  }
}
