// The HEK file format: its nodes and levels, checked by zod on load (hek.ts builds and serves it).
import { z } from 'zod'
import { EmbedderStateSchema } from './embed.js'
import { ExperienceSchema } from './types.js'

export const HEK_FORMAT = 'hiexp-hek'
export const HEK_VERSION = 1

/** A node is an experience (a tip, or a cluster's summary: a strategy or principle) placed in the hierarchy. */
export const HekNodeSchema = ExperienceSchema.extend({
  level: z.number().int().min(0),
  parent: z.string().nullable(),
  children: z.array(z.string()),
  /** Terms its members share (upper levels). */
  terms: z.array(z.string()).default([]),
  /** L2-normalised embedding (level 0: the text's; above: the support-weighted centroid of its tips). */
  vector: z.array(z.number()),
})
export type HekNode = z.infer<typeof HekNodeSchema>

export const HekFileSchema = z.object({
  format: z.literal(HEK_FORMAT),
  version: z.literal(HEK_VERSION),
  createdAt: z.string(),
  options: z.object({
    levels: z.number().int().min(1),
    thresholds: z.array(z.number()),
    method: z.string(),
    summarizer: z.string(),
  }),
  embedder: EmbedderStateSchema,
  levels: z.array(z.object({ level: z.number().int().min(0), name: z.string(), threshold: z.number().nullable(), nodes: z.array(z.string()) })),
  nodes: z.array(HekNodeSchema),
  /** scipy-format linkage of the tips ((n-1)*4 numbers; empty for fewer than 2). */
  linkage: z.array(z.number()),
  build: z.record(z.number()).default({}),
})
export type HekFile = z.infer<typeof HekFileSchema>

export const LEVEL_NAMES = ['tip', 'strategy', 'principle']
export const levelName = (l: number, L: number) => (l === 0 ? 'tip' : l === L - 1 && L >= 3 ? 'principle' : l < LEVEL_NAMES.length - 1 || L < 3 ? 'strategy' : `level ${l}`)

