/**
 * Parsing of one generated turn. A turn ends at `</search>` or `</answer>` (the stop strings); the action is the last
 * opening tag's content. Anything else — a closing tag without its opening, an empty query, a tag nested in the
 * action, an `<information>` block written by the policy, or a turn with no action — is malformed: the loop ends the
 * rollout with a format penalty instead of throwing.
 */
export type Action =
  | { kind: 'search'; query: string }
  | { kind: 'answer'; answer: string }
  | { kind: 'invalid'; reason: string }

const TAG = /<\/?(?:think|search|answer|information)>/

export function parseAction(text: string): Action {
  if (/<\/?information>/.test(text)) return { kind: 'invalid', reason: 'the policy wrote an <information> tag (only retrieval inserts it)' }
  // The action is closed by the last closing tag; text after it can only be the rest of the token that completed the
  // stop string (a BPE token such as "</answer>." or "</search>\n"), so it is ignored.
  const ends = (['search', 'answer'] as const).map((kind) => ({ kind, at: text.lastIndexOf(`</${kind}>`) }))
  const last = ends[0].at >= ends[1].at ? ends[0] : ends[1]
  if (last.at < 0) return { kind: 'invalid', reason: 'the turn ended without <search> … </search> or <answer> … </answer>' }
  const { kind } = last
  const close = `</${kind}>`
  const body = text.slice(0, last.at)
  const open = body.lastIndexOf(`<${kind}>`)
  if (open < 0) return { kind: 'invalid', reason: `${close} without <${kind}>` }
  const inner = body.slice(open + kind.length + 2)
  if (TAG.test(inner)) return { kind: 'invalid', reason: `a tag inside <${kind}> … ${close}` }
  const value = inner.trim()
  if (value === '') return { kind: 'invalid', reason: `empty <${kind}> … ${close}` }
  return kind === 'search' ? { kind, query: value } : { kind, answer: value }
}

// A well-formed turn: optional <think>…</think>, then exactly one action, and no other text or tags.
const FREE = '(?:(?!<\\/?(?:think|search|answer|information)>)[\\s\\S])*'
const WELL_FORMED = new RegExp(`^\\s*(<think>${FREE}<\\/think>\\s*)?<(search|answer)>${FREE}<\\/\\2>\\s*$`)

/** Strict format check of one turn, for the format reward. */
export function turnFormat(text: string): { wellFormed: boolean; hasThink: boolean } {
  const m = WELL_FORMED.exec(text)
  return { wellFormed: m !== null && parseAction(text).kind !== 'invalid', hasThink: m?.[1] !== undefined }
}
