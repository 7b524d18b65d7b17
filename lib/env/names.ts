/**
 * Word pools of the generated world. They are small on purpose: the embedded default trains a word-level model from
 * scratch, so every name part is a token, and parts are shared between entities (Alda Voss, Brin Voss, Voss Institute,
 * North Calder, Calder Falls) so that retrieval and reading have to use whole names, not one distinctive word.
 */
export const FIRST_NAMES = [
  'Alda', 'Brin', 'Cora', 'Dov', 'Elin', 'Fenn', 'Gala', 'Hest', 'Ira', 'Joss', 'Kael', 'Lira', 'Mako', 'Nell',
  'Orin', 'Pell', 'Quin', 'Rhea', 'Sela', 'Tov', 'Una', 'Vance', 'Wren', 'Yara', 'Zed', 'Ansel', 'Bexa', 'Cato',
  'Dara', 'Efa', 'Galen', 'Hale', 'Isa', 'Jory', 'Kesta', 'Lomi',
] as const

export const SURNAMES = [
  'Voss', 'Marren', 'Tallow', 'Quill', 'Brandt', 'Oakes', 'Fenwick', 'Harrow', 'Lisk', 'Morrow', 'Pike', 'Rook',
  'Sallow', 'Thorne', 'Vale', 'Wick', 'Ashby', 'Corran', 'Drey', 'Ember', 'Farrow', 'Gilt', 'Hollis', 'Kettle',
  'Lark', 'Moss', 'Nox', 'Penn', 'Reeve', 'Stroud',
] as const

export const PLACE_BASES = [
  'Kelmar', 'Calder', 'Averly', 'Dorran', 'Fallow', 'Gorse', 'Halden', 'Ivers', 'Jarrow', 'Kestrel', 'Lowmere',
  'Norwick', 'Ostby', 'Pellam', 'Quarry', 'Redmoor', 'Selby', 'Tarn', 'Umber', 'Wexley', 'Yarrow', 'Brisk', 'Elder',
  'Mirren',
] as const

/** How a city name is made from a base: alone, with a prefix, or with a suffix. */
export const PLACE_PREFIXES = ['North', 'South', 'Port', 'Upper', 'Old'] as const
export const PLACE_SUFFIXES = ['Falls', 'Bay', 'Hill', 'Cross'] as const

export const COUNTRIES = [
  'Dunmore', 'Esterra', 'Valdor', 'Carrow', 'Lorvia', 'Sundar', 'Mirel', 'Ostria', 'Tessaly', 'Varn', 'Brenna',
  'Kaldor', 'Aurel', 'Pravia', 'Zenda', 'Holm',
] as const

export const ORG_KINDS = ['Institute', 'Bank', 'Records', 'Foundation', 'Works', 'Press', 'Guild', 'Company'] as const

export const WORK_ADJECTIVES = [
  'Silent', 'Last', 'Red', 'Hollow', 'Bright', 'Broken', 'Golden', 'Quiet', 'Iron', 'Winter', 'Lost', 'Distant',
  'Secret', 'Pale', 'Wild', 'Long',
] as const

export const WORK_NOUNS = [
  'River', 'Garden', 'Tower', 'Road', 'Harbor', 'Crown', 'Lantern', 'Season', 'Bridge', 'Mirror', 'Letter', 'Orchard',
  'Storm', 'Voyage', 'Shadow', 'Island',
] as const

export const OCCUPATIONS = [
  'painter', 'writer', 'director', 'engineer', 'singer', 'teacher', 'merchant', 'sailor', 'doctor', 'scholar',
  'architect', 'farmer',
] as const

export const CITY_FEATURES = ['markets', 'bridges', 'gardens', 'harbor', 'festivals', 'libraries', 'mills', 'towers'] as const

/** Arithmetic word problems. */
export const ITEMS = ['apples', 'coins', 'books', 'stamps', 'shells', 'marbles', 'pencils', 'cards'] as const
