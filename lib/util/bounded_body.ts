/**
 * A response body read whole but bounded, for every client of a server it does not control (the distillers' and
 * embedders' endpoints, the retrieval server): a body past `maxBytes` is cut and refused, one still arriving after
 * `msLeft` ms (or once `signal` aborts it) is cut and refused, so neither a 100 MB answer nor one that never ends can
 * exhaust the heap or hang a run. The caller names the errors.
 */
export interface BodyBounds {
  maxBytes: number
  msLeft: number
  signal?: AbortSignal | null
  oversized(size: number): Error
  endless(size: number): Error
}

export async function readBoundedBody(res: Response, b: BodyBounds): Promise<string> {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let late = false
  // Cancelling the reader ends a pending read (done) and drops the connection.
  const timer = setTimeout(() => {
    late = true
    reader.cancel().catch(() => {})
  }, b.msLeft)
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>
      try {
        chunk = await reader.read()
      } catch (e) {
        // The caller's own time-out aborts the body: the headers came, the body did not end.
        if (b.signal?.aborted) throw b.endless(size)
        throw e
      }
      const { done, value } = chunk
      if (late) throw b.endless(size)
      if (done) break
      size += value.byteLength
      if (size > b.maxBytes) {
        await reader.cancel().catch(() => {})
        throw b.oversized(size)
      }
      chunks.push(value)
    }
  } finally {
    clearTimeout(timer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
