// Options of the generated world, validated once (zod); the defaults are the embedded default world.
import { z } from 'zod'
import * as W from './names.js'

const count = (def: number, max: number) => z.number().int().min(1).max(max).default(def)

export const WorldOptionsSchema = z
  .object({
    seed: z.number().int().default(0),
    countries: count(6, W.COUNTRIES.length),
    cities: count(24, W.PLACE_BASES.length * (1 + W.PLACE_PREFIXES.length + W.PLACE_SUFFIXES.length)),
    people: count(48, W.FIRST_NAMES.length * W.SURNAMES.length),
    organisations: count(16, 200),
    films: count(12, 120),
    books: count(12, 120),
    /** Share of people who are married (to another person of the world). */
    marriedFraction: z.number().min(0).max(1).default(0.6),
    /** Share of people who work for an organisation. */
    employedFraction: z.number().min(0).max(1).default(0.6),
    /** Distractor sentences per entity: other entities (often sharing a name part), visits, praise, features. */
    distractors: z.number().int().min(0).max(6).default(2),
    /**
     * Look-alike facts per entity page: a true fact of another entity of the same kind, most often one sharing a name
     * part, written in the same phrasing as the page's own facts ("Brin Voss was born in Calder Falls." on Alda Voss's
     * page). A search for the entity then returns two answers of the asked form, and only the sentence whose subject
     * is the searched entity is right. Absent or 0 (the default) adds none. Optional rather than defaulted, so that
     * the default world, its resolved options included, stays byte for byte what it was before the option existed.
     */
    lookalikeFacts: z.number().int().min(0).max(6).optional(),
    /**
     * The bottleneck world: each hop is asked in `perRelation` phrasings (the canonical one and nouns: "the hometown of
     * X") while its passage keeps the canonical sentence; the last `heldOut` phrasings of each hop never appear in the
     * warm start (world_phrasings.ts). Absent (the default): every question in the canonical phrasing, as before.
     */
    phrasings: z
      .object({ perRelation: z.number().int().min(1).max(3).default(3), heldOut: z.number().int().min(0).max(2).default(1) })
      .strict()
      .refine((p) => p.heldOut < p.perRelation, { message: 'heldOut must be < perRelation (the warm start needs a phrasing of every hop)', path: ['heldOut'] })
      .optional(),
    /** Sentences per passage; an entity with more sentences gets several passages. */
    sentencesPerPassage: z.number().int().min(1).max(20).default(3),
    /** Hop counts to generate questions for. */
    hops: z.array(z.number().int().min(1).max(4)).min(1).default([1, 2, 3, 4]),
    /**
     * Questions per hop count (fewer when the graph has fewer distinct paths of that length): one number for every
     * hop count, or one per entry of `hops`, in its order (a hop mix: [1, 2, 3] with [100, 150, 300]).
     */
    questionsPerHop: z.union([z.number().int().min(1), z.array(z.number().int().min(1)).min(1)]).default(250),
    /** Shares of the validation and test splits, taken per hop count; the rest is train. */
    validationFraction: z.number().min(0).max(0.5).default(0.1),
    testFraction: z.number().min(0).max(0.5).default(0.1),
  })
  .strict()
  .refine((o) => o.cities >= o.countries, { message: 'cities must be >= countries (every country has a city)', path: ['cities'] })
  .refine((o) => !Array.isArray(o.questionsPerHop) || o.questionsPerHop.length === o.hops.length, {
    message: 'as a list, questionsPerHop needs one count per entry of hops',
    path: ['questionsPerHop'],
  })
  .refine((o) => !Array.isArray(o.questionsPerHop) || new Set(o.hops).size === o.hops.length, {
    message: 'with questionsPerHop as a list, hops must not repeat a hop count',
    path: ['hops'],
  })

export type WorldOptions = z.input<typeof WorldOptionsSchema>
export type ResolvedWorldOptions = z.output<typeof WorldOptionsSchema>

/** How many questions of this hop count the options ask for. */
export function questionsFor(o: ResolvedWorldOptions, hops: number): number {
  return Array.isArray(o.questionsPerHop) ? o.questionsPerHop[o.hops.indexOf(hops)] : o.questionsPerHop
}

/** Validates world options, naming the first wrong one. */
export function parseWorldOptions(options: WorldOptions = {}): ResolvedWorldOptions {
  const parsed = WorldOptionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new RangeError(`generateWorld: option ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}
