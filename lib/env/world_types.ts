// The generated world's graph: entity kinds, the typed relations between them, and the shapes of both.
export type EntityKind = 'person' | 'city' | 'country' | 'organisation' | 'film' | 'book'

export type RelationName =
  | 'born_in'
  | 'spouse_of'
  | 'works_for'
  | 'founded_by'
  | 'headquartered_in'
  | 'directed_by'
  | 'written_by'
  | 'located_in'
  | 'capital_of'

export interface Entity {
  id: string
  kind: EntityKind
  name: string
  /** Occupation of a person, kind of an organisation. */
  attribute?: string
}

/** A typed edge of the graph, between entity ids. `spouse_of` is stored once per couple. */
export interface Fact {
  subject: string
  relation: RelationName
  object: string
}
