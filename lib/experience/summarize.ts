/**
 * Cluster summaries of the HEK's upper levels, abstractions of their members, never a member copied: every name in a
 * summary is a role slot (roles.ts), so a pattern learnt on one question names no entity of it. Offline (default): the
 * members' texts in role form, and of these the one that most of the cluster's support shares (cases of different
 * questions with the same structure have the same role form), its most central member breaking ties (the
 * support-weighted medoid); plus the terms most members share.
 * Prompt-based (LLM or self): an instruction to generalise the members into one strategy or principle, JSON reply
 * checked with zod; a cluster whose reply stays invalid falls back to its offline summary.
 */
import { z } from 'zod'
import { cosine } from './embed.js'
import type { TextGenerator } from './generator.js'
import { fillTemplate, loadTemplate, parseReply } from './llm.js'
import { promptData, sanitizeExperienceField, sanitizeExperienceText } from './sanitize.js'
import { roleForm } from './roles.js'
import { normalizeText, stemmedTerms } from './text.js'
import type { ExperienceKind } from './types.js'

export interface ClusterMember {
  /** The matching key ('' or absent: the text). */
  title?: string
  /** The question a case was learnt on, in role form (matched together with the title). */
  question?: string
  text: string
  hops?: number
  kind: ExperienceKind
  when: string
  taskType: string
  support: number
  vector: Float32Array
}

export interface ClusterInput {
  /** Level of the node being written (1 = strategy, 2 = principle, …). */
  level: number
  levelName: string
  members: ClusterMember[]
}

export interface ClusterSummary {
  /** The summary's matching key (default: its text's, for the offline summary the medoid's title). */
  title?: string
  /** The question type it is matched on with its title (the offline summary: the medoid's, when a case). */
  question?: string
  text: string
  /** Why (the summariser's reasoning), when it gave one. */
  thinking?: string
  when: string
  /** Terms shared by at least half of the members (most shared first). */
  terms: string[]
}

export interface Summarizer {
  readonly name: string
  summarize(clusters: readonly ClusterInput[]): Promise<ClusterSummary[]>
}

/**
 * Index of the support-weighted medoid: the member m minimising Σ_o support_o · (1 − cos(m, o)) over all members o,
 * itself included (its own support costs nothing), i.e. maximising support_m + Σ_{o≠m} support_o · cos(m, o).
 * `candidates` (indices) restricts who may be chosen; every member still weighs in.
 */
export function medoid(members: readonly ClusterMember[], candidates: readonly number[] = members.map((_, i) => i)): number {
  let best = candidates[0] ?? 0
  let bestScore = -Infinity
  for (const i of candidates) {
    let s = members[i].support
    members.forEach((o, j) => {
      if (i !== j) s += o.support * cosine(members[i].vector, o.vector)
    })
    if (s > bestScore) {
      bestScore = s
      best = i
    }
  }
  return best
}

export function sharedTerms(texts: readonly string[], max = 6): string[] {
  if (texts.length < 2) return []
  const df = new Map<string, number>()
  for (const t of texts) for (const w of new Set(stemmedTerms(t))) df.set(w, (df.get(w) ?? 0) + 1)
  return [...df.entries()]
    .filter(([, c]) => c >= Math.max(2, Math.ceil(texts.length / 2)))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, max)
    .map(([w]) => w)
}

function commonWhen(members: readonly ClusterMember[], fallback: string): string {
  const whens = new Set(members.map((m) => m.when))
  return whens.size === 1 ? [...whens][0] : fallback
}

/**
 * The role form most of the cluster's support shares (ties: the most central member). A summary stands for the whole
 * cluster, so when some members hold for any question and others only under a condition, it is chosen among the
 * unconditional ones.
 */
export function offlineSummary(c: ClusterInput): ClusterSummary {
  const general = c.members.flatMap((m, i) => (m.when === 'any question' ? [i] : []))
  const pool = general.length > 0 && general.length < c.members.length ? general : c.members.map((_, i) => i)
  const texts = c.members.map((m) => roleForm(m.text))
  // Members that share a role form, by summed support; when some do, the summary is the best-supported shared one.
  const byText = new Map<string, { support: number; members: number[] }>()
  for (const i of pool) {
    const k = normalizeText(texts[i])
    const e = byText.get(k) ?? { support: 0, members: [] }
    e.support += c.members[i].support
    e.members.push(i)
    byText.set(k, e)
  }
  const shared = [...byText.values()].filter((e) => e.members.length > 1).sort((a, b) => b.support - a.support || b.members.length - a.members.length)
  const m = medoid(c.members, shared.length > 0 ? shared[0].members : pool)
  const member = c.members[m]
  const out: ClusterSummary = {
    title: member.title ? roleForm(member.title) : texts[m],
    text: texts[m],
    when: commonWhen(c.members, 'any question'),
    terms: sharedTerms(texts),
  }
  if (member.question !== undefined) out.question = member.question
  return out
}

export const offlineSummarizer: Summarizer = {
  name: 'offline',
  async summarize(clusters) {
    return clusters.map(offlineSummary)
  },
}

/** Characters of a cluster's member list shown in a summary prompt. */
const MAX_MEMBERS_CHARS = 16_000

// A summary becomes a HEK node's text: cleaned and bounded like every experience text (sanitize.ts).
const SummaryReplySchema = z.object({
  title: z.string().transform(sanitizeExperienceField).optional(),
  text: z.string().transform(sanitizeExperienceText).pipe(z.string().min(3)),
  when: z.string().transform(sanitizeExperienceField).default('any question'),
})

export interface PromptSummarizerOptions {
  template?: string
  maxTokens?: number
  temperature?: number
  /** Extra asks after an invalid reply (default 1). */
  invalidRetries?: number
}

/** LLM or self summaries: one prompt per cluster of two or more members (a single member is its own summary). */
export function promptSummarizer(generator: TextGenerator, options: PromptSummarizerOptions = {}): Summarizer & { fallbacks: number } {
  const template = loadTemplate(options.template ?? 'summarize-cluster.txt')
  const s = {
    name: `prompt:${generator.id}`,
    fallbacks: 0,
    async summarize(clusters: readonly ClusterInput[]): Promise<ClusterSummary[]> {
      const out = clusters.map(offlineSummary)
      let pending = clusters.map((c, i) => i).filter((i) => clusters[i].members.length > 1)
      const prompts = new Map<number, string>()
      for (const i of pending) {
        const c = clusters[i]
        prompts.set(
          i,
          fillTemplate(template, {
            count: c.members.length,
            level_name: c.levelName,
            // Data, fenced in the template: bounded, and unable to close its fence (sanitize.ts).
            members: promptData(c.members.map((m) => `- ${m.title && m.title !== m.text ? `[${m.title}] ` : ''}${m.text} (when: ${m.when}; seen in ${m.support} attempts)`).join('\n'), MAX_MEMBERS_CHARS),
          }),
        )
      }
      for (let attempt = 0; attempt <= (options.invalidRetries ?? 1) && pending.length > 0; attempt++) {
        const replies = await generator.complete(
          pending.map((i) => prompts.get(i) as string),
          { maxTokens: options.maxTokens ?? 256, temperature: options.temperature ?? 0, json: true },
        )
        const again: number[] = []
        pending.forEach((i, k) => {
          try {
            const r = parseReply(replies[k] ?? '', SummaryReplySchema)
            // Without a title of its own, the summary is matched by its text.
            const text = roleForm(r.text)
            out[i] = { ...out[i], title: r.title ? roleForm(r.title) : text, text, when: r.when }
          } catch {
            again.push(i)
          }
        })
        pending = again
      }
      s.fallbacks += pending.length
      return out
    },
  }
  return s
}
