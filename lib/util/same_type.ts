// Compile-time checks that two descriptions of one object (a documented interface and a zod schema) do not drift.

/** true when A and B are mutually assignable, else false: `const check: Same<A, B> = true` fails to compile on drift. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
