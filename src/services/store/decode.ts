/**
 * Stored rows become domain values through the concept's own schema (the one that also types it), so a
 * value read from the store is checked, not cast. A row that does not decode means the file was edited or
 * damaged outside twoloop: a defect whose message names the table and the row.
 */
import { Exit, Schema } from "effect"

export class CorruptRow extends Error {
  override readonly name = "CorruptRow"
}

/** A decoder for rows of `table`, mapped to the schema's encoded shape by `map` (column names, JSON text). */
export const rowDecoder = <A, Row>(schema: Schema.Codec<A, unknown, never, never>, table: string, map: (row: Row) => unknown, key: (row: Row) => unknown) => {
  const decode = Schema.decodeUnknownExit(schema)
  return (row: Row): A => {
    let mapped: unknown
    try {
      mapped = map(row)
    } catch (error) {
      throw new CorruptRow(`the store's ${table} row ${String(key(row))} is damaged: ${(error as Error).message}`)
    }
    const exit = decode(mapped)
    if (Exit.isSuccess(exit)) return exit.value
    throw new CorruptRow(`the store's ${table} row ${String(key(row))} does not decode: ${String(exit.cause).split("\n")[0]}`)
  }
}

/** JSON text of a nullable column, parsed (null stays null). */
export const jsonOrNull = (text: string | null): unknown => (text === null ? null : JSON.parse(text))
