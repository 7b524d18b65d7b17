// A checkpoint's chat template around the agent's prompt (lib/agent/chat.ts, rollout.chat): Qwen2.5-Instruct's
// template from a tokenizer_config.json fixture, rendered as transformers renders it, with the masks exact across the
// template's tokens (0 on all of them, 1 on what the policy generated, EOS included).
import test from 'ava'
import { readFileSync } from 'node:fs'
import { chatMessages, promptText } from '../../lib/agent/chat.js'
import { DEFAULT_TEMPLATE, INFO_CLOSE, INFO_OPEN, SEARCH_R1_TEMPLATE } from '../../lib/agent/prompt.js'
import { runRollouts } from '../../lib/agent/rollout.js'
import type { GenerateOptions, Generation, GenerationPolicy } from '../../lib/agent/policy.js'
import { generateDemonstrations } from '../../lib/agent/demonstrations.js'
import type { Tokenizer } from '../../lib/model/tokenizer.js'
import { qwenStyleTokenizer } from '../model/qwen_style_tokenizer.js'
import { FixedRetriever } from './helpers.js'

const CONFIG = JSON.parse(readFileSync(new URL('../fixtures/qwen2.5-instruct/tokenizer_config.json', import.meta.url), 'utf8')) as Record<string, unknown>
const Q = 'where was alda voss born?'
const SYSTEM_DEFAULT = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.'

/** Replays turns with a real (BPE) tokenizer; the answer turn ends with the template's EOS, as an Instruct model does. */
class ChatPolicy implements GenerationPolicy {
  readonly seen: string[][] = []
  constructor(readonly tokenizer: Tokenizer, private readonly turns: string[]) {}
  async generate(sequences: number[][], _opts: GenerateOptions): Promise<Generation[]> {
    const call = this.seen.length
    this.seen.push(sequences.map((s) => this.tokenizer.decode(s)))
    return sequences.map(() => {
      const text = this.turns[call]
      const tokens = this.tokenizer.encode(text)
      const eos = text.endsWith('<|im_end|>')
      return { tokens, logprobs: tokens.map(() => -0.5), text: eos ? text.slice(0, -'<|im_end|>'.length) : text, finish: eos ? 'eos' : 'stop' }
    })
  }
}

test("'search-r1': the whole prompt is Qwen's user message after its default system message, as transformers renders it", (t) => {
  const tok = qwenStyleTokenizer(CONFIG)
  const raw = SEARCH_R1_TEMPLATE.replace('{experiences}', '').replace('{question}', Q)
  t.is(promptText(SEARCH_R1_TEMPLATE, { question: Q }, 'search-r1', tok), `<|im_start|>system\n${SYSTEM_DEFAULT}<|im_end|>\n<|im_start|>user\n${raw}<|im_end|>\n<|im_start|>assistant\n`)
  t.is(promptText(SEARCH_R1_TEMPLATE, { question: Q }, 'none', tok), raw)
})

test("'system': instruction and experiences as the system message, the question's line as the user message", (t) => {
  const tok = qwenStyleTokenizer(CONFIG)
  const messages = chatMessages(DEFAULT_TEMPLATE, { question: Q, experiences: 'search the person first' }, 'system')
  t.is(messages.length, 2)
  t.is(messages[0].role, 'system')
  t.true(messages[0].content.startsWith('Answer the question.'))
  t.true(messages[0].content.endsWith('search the person first'))
  t.deepEqual(messages[1], { role: 'user', content: `Question: ${Q}` })
  t.is(
    promptText(DEFAULT_TEMPLATE, { question: Q, experiences: 'search the person first' }, 'system', tok),
    `<|im_start|>system\n${messages[0].content}<|im_end|>\n<|im_start|>user\nQuestion: ${Q}<|im_end|>\n<|im_start|>assistant\n`,
  )
})

test('rollouts through the chat template: mask 0 on every template token, 1 on each generated token and the EOS', async (t) => {
  const tok = qwenStyleTokenizer(CONFIG)
  const policy = new ChatPolicy(tok, ['<search> alda voss </search>', '<answer> kelmar </answer><|im_end|>'])
  const retriever = new FixedRetriever(() => [{ id: 'p1', contents: 'Alda Voss\nAlda Voss was born in Kelmar.' }])
  const { rollouts } = await runRollouts(policy, retriever, [{ question: Q }], { template: SEARCH_R1_TEMPLATE, chat: 'search-r1', topk: 1 })
  const [r] = rollouts
  const prompt = promptText(SEARCH_R1_TEMPLATE, { question: Q }, 'search-r1', tok)
  t.is(r.prompt, prompt)
  t.deepEqual(r.tokens.slice(0, r.promptLength), tok.encode(prompt))
  t.is(tok.decode(r.tokens.slice(0, r.promptLength)), prompt)
  t.true(r.tokens.slice(0, r.promptLength).includes(tok.idOf('<|im_start|>')!))
  // The mask, token by token: the templated prompt 0, turn 1 generated 1, <information> 0, turn 2 and its EOS 1.
  const search = tok.encode('<search> alda voss </search>')
  const info = r.turns[0].infoSpan!
  const answer = tok.encode('<answer> kelmar </answer><|im_end|>')
  const expected = [...Array(r.promptLength).fill(0), ...search.map(() => 1), ...Array(info[1] - info[0]).fill(0), ...answer.map(() => 1)]
  t.deepEqual(Array.from(r.mask), expected)
  t.is(r.tokens.at(-1), tok.idOf('<|im_end|>'))
  t.is(tok.decode(r.tokens.slice(info[0], info[1])), `${INFO_OPEN}Doc 1(Title: Alda Voss) Alda Voss was born in Kelmar.\n${INFO_CLOSE}`)
  t.is(r.answer, 'kelmar')
  // The policy saw the templated prompt, then it with the first turn and the documents.
  t.is(policy.seen[0][0], prompt)
})

test('demonstrations key their prompts the same way (the oracle finds its question behind the template)', async (t) => {
  const tok = qwenStyleTokenizer(CONFIG)
  const retriever = new FixedRetriever(() => [{ id: 'p1', contents: 'Alda Voss\nAlda Voss was born in Kelmar.' }])
  const q = { id: 'q1', question: Q, goldAnswers: ['kelmar'], dataSource: 't', taskType: 'qa', relations: ['born'], chain: ['alda voss', 'kelmar'] }
  const [d] = await generateDemonstrations([q], retriever, tok, { template: SEARCH_R1_TEMPLATE, chat: 'search-r1', maxTotalTokens: 2000, maxTurnTokens: 200 })
  t.true(d.prompt.startsWith('<|im_start|>system\n'))
  t.is(d.finish, 'answer')
})

test('a chat format on a tokenizer without a template names the option', (t) => {
  const tok = qwenStyleTokenizer()
  t.throws(() => promptText(DEFAULT_TEMPLATE, { question: Q }, 'search-r1', tok), { message: /rollout\.chat 'search-r1' needs a tokenizer with a chat template .*rollout\.chat: 'none'/ })
})
