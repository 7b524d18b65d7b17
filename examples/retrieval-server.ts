/**
 * A BM25 retrieval server speaking Search-R1's API, for the HTTP retriever (and for Search-R1 itself):
 *
 *   npx tsx examples/retrieval-server.ts --corpus corpus.jsonl --port 8000 [--save-index bm25.json]
 *   npx tsx examples/retrieval-server.ts --index bm25.json --port 8000
 *   npx tsx examples/retrieval-server.ts --world 0 --port 8000          # the embedded world's corpus (seed 0)
 *
 *   curl -s localhost:8000/retrieve -d '{"queries":["Who founded Voss Institute?"],"topk":3,"return_scores":true}'
 *
 * Prints `listening on <url>` once ready. `serveBm25` is the same thing as a function.
 */
import { pathToFileURL } from 'node:url'
import { Command } from 'commander'
import { loadCorpusJsonl } from '../lib/env/corpus.js'
import { generateWorld } from '../lib/env/world.js'
import { Bm25Retriever } from '../lib/search/bm25.js'
import { startRetrievalServer, type RetrievalServer } from '../lib/search/server.js'
import type { Passage } from '../lib/search/types.js'

export { startRetrievalServer }

export interface ServeBm25Options {
  /** Passages to index, or an index file written by Bm25Retriever.save. */
  corpus?: Passage[]
  index?: string
  host?: string
  port?: number
  delayMs?: number
}

/** Builds (or loads) a BM25 index and serves it; resolves once listening. */
export async function serveBm25(options: ServeBm25Options): Promise<RetrievalServer & { retriever: Bm25Retriever }> {
  const retriever = options.index
    ? await Bm25Retriever.load(options.index)
    : Bm25Retriever.build(options.corpus ?? generateWorld({ seed: 0 }).corpus)
  const server = await startRetrievalServer({ retriever, host: options.host, port: options.port, delayMs: options.delayMs })
  return { ...server, retriever }
}

async function main() {
  const cli = new Command()
    .name('retrieval-server')
    .option('--corpus <file>', 'corpus JSONL ({"id","contents"} per line)')
    .option('--index <file>', 'BM25 index written by --save-index')
    .option('--world <seed>', 'serve the embedded world generated with this seed', (v) => Number.parseInt(v, 10))
    .option('--save-index <file>', 'write the BM25 index here (atomically) before serving')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', (v) => Number.parseInt(v, 10), 8000)
    .option('--delay-ms <ms>', 'wait before answering each request (for tests)', (v) => Number.parseInt(v, 10), 0)
    .parse()
  const o = cli.opts<{ corpus?: string; index?: string; world?: number; saveIndex?: string; host: string; port: number; delayMs: number }>()
  const corpus = o.corpus ? await loadCorpusJsonl(o.corpus) : o.index ? undefined : generateWorld({ seed: o.world ?? 0 }).corpus
  const server = await serveBm25({ corpus, index: o.index, host: o.host, port: o.port, delayMs: o.delayMs })
  if (o.saveIndex) await server.retriever.save(o.saveIndex)
  console.log(`listening on ${server.url} (${server.retriever.size} passages)`)
  const stop = () => void server.close().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error((e as Error).message)
    process.exit(1)
  })
}
