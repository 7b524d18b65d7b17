/**
 * Experience text is data written by a model (an LLM, the policy itself) or read from a file someone else made. It
 * goes into SVG pictures, onto a terminal (`hiexp hek show`), into the agent's prompt and into distiller prompts, so it
 * is cleaned once where it enters (the experience and HEK schemas, the distiller's and summariser's replies):
 * terminal escapes and control characters are dropped, whitespace becomes single spaces, template placeholders are
 * made inert, and the length is bounded. Text shown to a model inside a prompt is fenced as data (`promptData`).
 */

/** Longest experience text kept (characters); longer text is cut with "…". One sentence of advice is ~100-300. */
export const MAX_EXPERIENCE_TEXT_CHARS = 1000
/** Longest short field kept (`when`, `taskType`, a summary's `when`). */
export const MAX_EXPERIENCE_FIELD_CHARS = 200

// Terminal control sequences (ECMA-48): CSI (ESC [ … final, or the 8-bit 0x9B), strings terminated by BEL or ST
// (OSC ESC ], DCS ESC P, SOS ESC X, PM ESC ^, APC ESC _, and their 8-bit forms), and two-character escapes (ESC c …).
const CSI = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]/g
const STRINGS = /(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c)/g
const ESCAPES = /\x1b[ -/]*[0-~]/g
// What is left after the sequences: C0 controls but tab/newline/CR, DEL, C1 controls, bidi overrides and isolates
// (they reorder what a terminal or an editor shows), and the non-characters U+FFFE/U+FFFF (not allowed in XML).
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]/g
// A surrogate half without its partner is not text (XML parsers and UTF-8 encoders refuse it).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g
// `{question}`, `{experiences}`, `{success}`: the shape of a slot in the prompt templates (lib/agent/prompt.ts,
// prompts/*.txt). Inside experience text it becomes `(question)`, so no template filler can ever substitute there.
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/** Drops terminal escape sequences and control characters; newlines and tabs are kept. */
export function stripControls(text: string): string {
  return text
    .replace(CSI, '')
    .replace(STRINGS, '')
    .replace(ESCAPES, '')
    .replace(CONTROLS, '')
    .replace(LONE_SURROGATE, '\ufffd')
}

/** Cuts `text` to at most `maxChars` characters, marking a cut with "…" (never splitting a surrogate pair). */
export function boundLength(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text
  let end = Math.max(0, maxChars - 1)
  if (end > 0 && /[\ud800-\udbff]/.test(text[end - 1])) end--
  return `${text.slice(0, end)}…`
}

/** One line of clean text: controls dropped, placeholders inert, whitespace runs as one space, trimmed, bounded. */
export function sanitizeLine(text: string, maxChars: number): string {
  return boundLength(stripControls(text).replace(PLACEHOLDER, '($1)').replace(/\s+/g, ' ').trim(), maxChars)
}

/** An experience's (or a HEK node's) advice text as it is stored. */
export function sanitizeExperienceText(text: string): string {
  return sanitizeLine(text, MAX_EXPERIENCE_TEXT_CHARS)
}

/** A short descriptive field of an experience (`when`, `taskType`). */
export function sanitizeExperienceField(text: string): string {
  return sanitizeLine(text, MAX_EXPERIENCE_FIELD_CHARS)
}

/**
 * Text placed between ``` fences in a prompt as data: controls dropped, bounded, and any run of three or more
 * backticks turned into quotes, so the text cannot close its fence and continue as instructions. Newlines are kept.
 */
export function promptData(text: string, maxChars: number): string {
  return boundLength(stripControls(text).replace(/`{3,}/g, (m) => "'".repeat(m.length)), maxChars)
}
