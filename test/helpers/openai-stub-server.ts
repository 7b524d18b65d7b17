/**
 * A loopback server that speaks enough of the OpenAI HTTP protocol for tests: POST /v1/chat/completions and
 * POST /v1/embeddings. What it answers is decided per request by a handler (content, HTTP status, delay), so tests can
 * script malformed JSON, time-outs and server errors, and hostile replies: a raw body of any content type (HTML), a
 * message whose content is not text, no choices, and a streamed body of any size or one that never ends. Listens on
 * 127.0.0.1, port 0 (any free port).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ChatRequest {
  model: string
  messages: Array<{ role: string; content: string }>
  max_tokens?: number
  temperature?: number
  response_format?: { type: string }
}

export type ChatReply =
  | string
  | {
      /** The assistant message's content: any JSON value (a string normally; a number or an object to be hostile). */
      content?: unknown
      /** Replaces the whole choices array (e.g. [] or undefined, for a reply without choices). */
      choices?: unknown
      status?: number
      delayMs?: number
      /** A raw body instead of a chat completion, sent with `contentType` (default application/json). */
      body?: string
      contentType?: string
      /** A raw body streamed as `chunk` repeated `count` times (forever when absent), `everyMs` apart (default 0). */
      stream?: { chunk: string; count?: number; everyMs?: number }
    }

export interface StubServer {
  baseURL: string
  /** Chat requests received, in order. */
  requests: ChatRequest[]
  /** Most requests in flight at once. */
  maxInFlight: number
  /** Bytes of streamed bodies the server managed to write (a client that stops reading stops it). */
  streamedBytes: number
  close(): Promise<void>
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Writes the chunks with back-pressure until done or until the client goes away. */
async function stream(res: ServerResponse, o: { chunk: string; count?: number; everyMs?: number }, state: { streamedBytes: number }) {
  const bytes = Buffer.from(o.chunk)
  for (let i = 0; o.count === undefined || i < o.count; i++) {
    if (res.destroyed) return
    const drained = res.write(bytes)
    state.streamedBytes += bytes.length
    if (!drained) {
      await new Promise<void>((ok) => {
        const done = () => {
          res.off('drain', done)
          res.off('close', done)
          ok()
        }
        res.on('drain', done)
        res.on('close', done)
      })
    }
    if (o.everyMs) await new Promise((ok) => setTimeout(ok, o.everyMs))
  }
  res.end()
}

export async function startStubServer(
  chat: (req: ChatRequest, index: number) => ChatReply | Promise<ChatReply>,
  embed: (text: string) => number[] = (t) => [t.length % 7, (t.length % 5) + 1, t.split(' ').length],
): Promise<StubServer> {
  const state = { requests: [] as ChatRequest[], inFlight: 0, maxInFlight: 0, streamedBytes: 0 }
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
        res.writeHead(status, { 'content-type': reply.contentType ?? 'application/json' })
        if (reply.body !== undefined) return void res.end(reply.body)
        if (reply.stream) return void (await stream(res, reply.stream, state))
        if (status !== 200) return void res.end(JSON.stringify({ error: { message: `stub error ${status}`, type: 'server_error' } }))
        res.end(
          JSON.stringify({
            id: `chatcmpl-${index}`,
            object: 'chat.completion',
            created: 0,
            model: body.model,
            choices: 'choices' in reply ? reply.choices : [{ index: 0, message: { role: 'assistant', content: reply.content ?? '' }, finish_reason: 'stop' }],
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
    get streamedBytes() {
      return state.streamedBytes
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy()
        server.close(() => ok())
      }),
  }
}
