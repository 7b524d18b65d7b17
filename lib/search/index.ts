export { type Passage, type Retriever, splitContents } from './types.js'
export { Bm25Retriever, Bm25OptionsSchema, ENGLISH_STOP_WORDS, type Bm25Options } from './bm25.js'
export { HttpRetriever, HttpRetrieverOptionsSchema, RetrieverError, type HttpRetrieverOptions } from './http.js'
export { startRetrievalServer, type RetrievalServer, type RetrievalServerOptions } from './server.js'
