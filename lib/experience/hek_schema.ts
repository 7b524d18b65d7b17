// The HEK file format: its nodes and levels, checked by zod on load (hek.ts builds and serves it). Version 2 holds
// the paper's record in every node (type E1/E2/E3, title, tags, thinking besides the text); version 1 files (no
// titles, levels named tip/strategy/principle) are converted on load by `upgradeHekFile`.
import { z } from 'zod'
import { EmbedderStateSchema } from './embed.js'
import { ExperienceSchema, type ExperienceType } from './types.js'

export const HEK_FORMAT = 'hiexp-hek'
export const HEK_VERSION = 2

/** A node is an experience (a case, or a cluster's summary: a pattern or a strategy) placed in the hierarchy. */
export const HekNodeSchema = ExperienceSchema.extend({
  level: z.number().int().min(0),
  parent: z.string().nullable(),
  children: z.array(z.string()),
  /** Terms its members share (upper levels). */
  terms: z.array(z.string()).default([]),
  /** L2-normalised embedding of the title (the matching key). */
  vector: z.array(z.number()),
  /** L2-normalised embedding of `question`, when the node was learnt on one (retrieval matches it too). */
  questionVector: z.array(z.number()).optional(),
})
export type HekNode = z.infer<typeof HekNodeSchema>

export const HekFileSchema = z.object({
  format: z.literal(HEK_FORMAT),
  version: z.literal(HEK_VERSION),
  createdAt: z.string(),
  options: z.object({
    levels: z.number().int().min(1),
    /** Cut height of each level above the cases (τ1, τ2, …). */
    thresholds: z.array(z.number()),
    method: z.string(),
    summarizer: z.string(),
  }),
  embedder: EmbedderStateSchema,
  levels: z.array(z.object({ level: z.number().int().min(0), name: z.string(), threshold: z.number().nullable(), nodes: z.array(z.string()) })),
  nodes: z.array(HekNodeSchema),
  /** scipy-format linkage of the cases ((n-1)*4 numbers; empty for fewer than 2). */
  linkage: z.array(z.number()),
  build: z.record(z.number()).default({}),
})
export type HekFile = z.infer<typeof HekFileSchema>

/** Level names: E1 cases, E2 patterns, E3 strategies (the paper's words). */
export const LEVEL_NAMES = ['case', 'pattern', 'strategy']
export const levelName = (l: number, L: number) => (l === 0 ? 'case' : l === L - 1 && L >= 3 ? 'strategy' : l === 1 || L < 3 ? 'pattern' : `level ${l}`)
/** The paper's type of a level's nodes: E1 at the bottom, E2 above, E3 for everything higher. */
export const typeOfLevel = (l: number): ExperienceType => (l === 0 ? 'E1' : l === 1 ? 'E2' : 'E3')

const V1_LEVEL_NAMES: Record<string, string> = { tip: 'case', strategy: 'pattern', principle: 'strategy' }

/**
 * A version 1 file in version 2's shape: each node's text becomes its own title (version 1 embedded the text, so the
 * stored vectors are the titles' embeddings), its type follows its level, and the levels take the paper's names.
 * Anything else is left for the schema to check (and name).
 */
export function upgradeHekFile(v1: Record<string, unknown>): Record<string, unknown> {
  const nodes = Array.isArray(v1.nodes) ? v1.nodes : []
  const levels = Array.isArray(v1.levels) ? v1.levels : []
  return {
    ...v1,
    version: HEK_VERSION,
    levels: levels.map((lv) => (typeof lv === 'object' && lv !== null ? { ...lv, name: V1_LEVEL_NAMES[(lv as { name: string }).name] ?? (lv as { name: string }).name } : lv)),
    nodes: nodes.map((n) => {
      if (typeof n !== 'object' || n === null) return n
      const node = n as Record<string, unknown>
      return { ...node, type: typeOfLevel(typeof node.level === 'number' ? node.level : 0), title: node.title ?? node.text, tags: node.tags ?? [], thinking: node.thinking ?? '' }
    }),
  }
}
