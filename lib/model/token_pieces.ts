// The bytes every token id adds to decoded text, for matching stop strings natively (native/model/decode_loop.h)
// without a return to JavaScript per token. Byte-level BPE (Qwen, GPT-2) tokens map to raw bytes, which may be part
// of a UTF-8 character, so a piece is bytes, not a string: the token's characters through the byte-level alphabet,
// or, for other decoders, the text the token adds when decoded after a probe token. A table is kept only when its
// joined pieces reproduce the decoded text of sampled sequences; otherwise stop strings are matched on decoded text,
// step by step.

export interface PieceSource {
  decode(ids: number[]): string
  tokenOf?(id: number): string | undefined
  readonly vocabSize: number
  readonly json?: Record<string, unknown>
}

export interface TokenPieces {
  /**
   * Joined pieces are the decoded text exactly (true), or differ only in whitespace (false: decoders that clean up
   * tokenization spaces, as transformers' clean_up_tokenization_spaces drops the space before . , ! ? ' n't …).
   */
  exact: boolean
  /** Bytes of every piece, back to back. */
  bytes: Uint8Array
  /** vocabSize + 1 offsets: piece v is bytes[offsets[v], offsets[v + 1]). */
  offsets: Int32Array
}

const cache = new WeakMap<PieceSource, TokenPieces | null>()
const utf8 = new TextEncoder()

/** The piece table, or null when joined pieces do not reproduce decoded text for this tokenizer. Computed once. */
export function tokenPieces(tok: PieceSource, probeId = 0): TokenPieces | null {
  const known = cache.get(tok)
  if (known !== undefined) return known
  const pieces = byteLevelPieces(tok) ?? probedPieces(tok, probeId)
  const verdict = pieces ? joinsIntoText(tok, pieces, probeId) : 'no'
  const table = pieces && verdict !== 'no' ? pack(pieces, verdict === 'exact') : null
  cache.set(tok, table)
  return table
}

/**
 * Whether a stop string is found in joined pieces exactly when it is found in decoded text: always for an exact
 * table; for a whitespace-cleaning decoder, when the string holds no whitespace and none of the characters before
 * which spaces are dropped.
 */
export function matchesLikeText(table: TokenPieces, stop: string): boolean {
  return !/^\s/.test(stop) && (table.exact || !/[\s.,!?']/.test(stop))
}

/** Piece v of a table, as bytes. */
export function piece(table: TokenPieces, v: number): Uint8Array {
  return table.bytes.subarray(table.offsets[v], table.offsets[v + 1])
}

function usesByteLevelDecoder(json: Record<string, unknown> | undefined): boolean {
  const d = json?.decoder as { type?: string; decoders?: { type?: string }[] } | null | undefined
  return d?.type === 'ByteLevel' || (d?.type === 'Sequence' && (d.decoders ?? []).some((x) => x.type === 'ByteLevel'))
}

// GPT-2's bytes_to_unicode, inverted: the character that stands for each byte in a byte-level vocabulary.
function byteDecoder(): Map<string, number> {
  const printable: number[] = []
  for (let b = 33; b <= 126; b++) printable.push(b)
  for (let b = 161; b <= 172; b++) printable.push(b)
  for (let b = 174; b <= 255; b++) printable.push(b)
  const map = new Map<string, number>()
  let extra = 0
  for (let b = 0; b < 256; b++) map.set(printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++), b)
  return map
}

function byteLevelPieces(tok: PieceSource): Uint8Array[] | null {
  if (!usesByteLevelDecoder(tok.json) || !tok.tokenOf) return null
  const added = new Map<number, string>()
  for (const a of (tok.json?.added_tokens ?? []) as { id: number; content: string }[]) added.set(a.id, a.content)
  const bytes = byteDecoder()
  const pieces: Uint8Array[] = []
  for (let v = 0; v < tok.vocabSize; v++) {
    const special = added.get(v)
    if (special !== undefined) {
      pieces.push(utf8.encode(special))
      continue
    }
    const token = tok.tokenOf(v)
    if (token === undefined) return null
    const out: number[] = []
    for (const ch of token) {
      const b = bytes.get(ch)
      if (b === undefined) return null
      out.push(b)
    }
    pieces.push(Uint8Array.from(out))
  }
  return pieces
}

function probedPieces(tok: PieceSource, probeId: number): Uint8Array[] | null {
  const head = tok.decode([probeId])
  const pieces: Uint8Array[] = []
  for (let v = 0; v < tok.vocabSize; v++) {
    const text = tok.decode([probeId, v])
    if (!text.startsWith(head) || text.includes("\uFFFD")) return null
    pieces.push(utf8.encode(text.slice(head.length)))
  }
  return pieces
}

// Joined pieces must decode to the text after the probe ('exact'), or to it up to whitespace ('whitespace'), on
// sequences drawn across the vocabulary by a fixed generator (the verdict is the same on every run). Only sequences
// whose bytes are valid UTF-8 are compared: decoders differ in how they replace broken characters, which no stop
// string is made of.
function joinsIntoText(tok: PieceSource, pieces: Uint8Array[], probeId: number): 'exact' | 'whitespace' | 'no' {
  const V = tok.vocabSize
  const head = tok.decode([probeId])
  const strict = new TextDecoder('utf-8', { fatal: true })
  const squeeze = (x: string) => x.replace(/\s+/g, '')
  let state = 0x9e3779b9
  const next = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) % V
  }
  let compared = 0
  let exact = true
  // Every token once after another (a decoder that treats a token by what precedes it, as cleaning the space before
  // punctuation does, shows there), then longer sequences.
  const sequences = (function* () {
    for (let v = 0; v < V; v++) yield [next(), v]
    for (let trial = 0; trial < 4096; trial++) yield Array.from({ length: 2 + (trial % 6) }, next)
  })()
  for (const seq of sequences) {
    if (compared >= V + 256) break
    let joined: string
    try {
      joined = strict.decode(concat(seq.map((id) => pieces[id])))
    } catch {
      continue
    }
    const text = tok.decode([probeId, ...seq]).slice(head.length)
    if (text !== joined) {
      if (squeeze(text) !== squeeze(joined)) return 'no'
      exact = false
    }
    compared++
  }
  return compared < Math.min(64, V) ? 'no' : exact ? 'exact' : 'whitespace'
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function pack(pieces: Uint8Array[], exact: boolean): TokenPieces {
  const offsets = new Int32Array(pieces.length + 1)
  pieces.forEach((p, v) => (offsets[v + 1] = offsets[v] + p.length))
  return { exact, bytes: concat(pieces), offsets }
}
