/** One retrievable passage. `contents` follows Search-R1's corpus layout: the title on the first line, the text after it. */
export interface Passage {
  id: string
  contents: string
  /** Retrieval score, when the retriever reports one (higher is better). */
  score?: number
}

/** Anything that answers a batch of queries with the top-k passages of each, best first. */
export interface Retriever {
  search(queries: string[], topk: number): Promise<Passage[][]>
  /** Releases sockets or files, where the retriever holds any. */
  close?(): Promise<void>
}

/** Splits Search-R1's `contents` into its title (first line) and text (the rest). */
export function splitContents(contents: string): { title: string; text: string } {
  const nl = contents.indexOf('\n')
  if (nl < 0) return { title: '', text: contents }
  return { title: contents.slice(0, nl), text: contents.slice(nl + 1) }
}
