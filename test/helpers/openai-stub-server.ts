/**
 * A loopback server that speaks enough of the OpenAI HTTP protocol for tests: POST /v1/chat/completions and
 * POST /v1/embeddings. What it answers is decided per request by a handler (content, HTTP status, delay), so tests can
 * script malformed JSON, time-outs and server errors. Listens on 127.0.0.1, port 0 (any free port).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ChatRequest {
  model: string
  messages: Array<{ role: string; content: string }>
  max_tokens?: number
  temperature?: number
  response_format?: { type: string }
}

export type ChatReply = string | { content?: string; status?: number; delayMs?: number; body?: string }

export interface StubServer {
  baseURL: string
  /** Chat requests received, in order. */
  requests: ChatRequest[]
  /** Most requests in flight at once. */
  maxInFlight: number
  close(): Promise<void>
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export async function startStubServer(
  chat: (req: ChatRequest, index: number) => ChatReply | Promise<ChatReply>,
  embed: (text: string) => number[] = (t) => [t.length % 7, (t.length % 5) + 1, t.split(' ').length],
): Promise<StubServer> {
  const state = { requests: [] as ChatRequest[], inFlight: 0, maxInFlight: 0 }
  const sockets = new Set<import('node:net').Socket>()
  const server: Server = createServer(async (req, res) => {
    state.inFlight++
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight)
    try {
      const raw = await readBody(req)
      if (req.method === 'POST' && req.url?.endsWith('/chat/completions')) {
        const body = JSON.parse(raw) as ChatRequest
        const index = state.requests.length
        state.requests.push(body)
        const r = await chat(body, index)
        const reply = typeof r === 'string' ? { content: r } : r
        if (reply.delayMs) await new Promise((ok) => setTimeout(ok, reply.delayMs))
        if (res.destroyed) return
        const status = reply.status ?? 200
        res.writeHead(status, { 'content-type': 'application/json' })
        if (reply.body !== undefined) return void res.end(reply.body)
        if (status !== 200) return void res.end(JSON.stringify({ error: { message: `stub error ${status}`, type: 'server_error' } }))
        res.end(
          JSON.stringify({
            id: `chatcmpl-${index}`,
            object: 'chat.completion',
            created: 0,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: reply.content ?? '' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        )
        return
      }
      if (req.method === 'POST' && req.url?.endsWith('/embeddings')) {
        const body = JSON.parse(raw) as { model: string; input: string | string[] }
        const inputs = Array.isArray(body.input) ? body.input : [body.input]
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            object: 'list',
            model: body.model,
            data: inputs.map((t, index) => ({ object: 'embedding', index, embedding: embed(t) })),
            usage: { prompt_tokens: 1, total_tokens: 1 },
          }),
        )
        return
      }
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }))
    } finally {
      state.inFlight--
    }
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests: state.requests,
    get maxInFlight() {
      return state.maxInFlight
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy()
        server.close(() => ok())
      }),
  }
}
