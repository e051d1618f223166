/**
 * The SQLite store: one file per project (WAL), holding both levels of a run. Opening fails with a
 * StoreError (not SQLite, newer schema, damaged, unwritable path); after that, SQL failures are defects (a
 * damaged page found later is a StoreDamaged defect, which the CLI shows as one line). Every repository
 * function is available as an Effect; `transaction` runs several writes atomically.
 */
import { Context, Effect, Layer } from "effect"
import { StoreDamaged, StoreError } from "../domain/errors.ts"
import * as experiments from "./store/experiments.ts"
import * as library from "./store/library.ts"
import * as llmCalls from "./store/llmCalls.ts"
import { type Db, isCorruption, openDatabase, OpenStoreFailure, type OpenOptions } from "./store/open.ts"
import * as outer from "./store/outer.ts"
import * as runs from "./store/runs.ts"

export type { Db } from "./store/open.ts"

/** The repository functions of a module whose first parameter is the database handle, as Effects. */
type Lift<M> = {
  readonly [K in keyof M as M[K] extends (...args: infer P) => unknown ? (P extends [Db, ...Array<unknown>] ? K : never) : never]: M[K] extends (
    db: Db,
    ...args: infer A
  ) => infer B
    ? (...args: A) => Effect.Effect<B>
    : never
}

/** Runs `f` on the handle; SQLite's "damaged file" errors become a StoreDamaged defect naming the file. */
const guarded = <A>(file: string, f: () => A): A => {
  try {
    return f()
  } catch (error) {
    if (isCorruption(error)) throw new StoreDamaged(file, (error as Error).message)
    throw error
  }
}

const lift = <M extends Record<string, unknown>>(db: Db, file: string, group: string, module: M): Lift<M> => {
  const lifted: Record<string, unknown> = {}
  for (const [name, fn] of Object.entries(module)) {
    if (typeof fn !== "function" || fn.length === 0) continue
    lifted[name] = Effect.fn(`Store.${group}.${name}`)(function* (...args: ReadonlyArray<unknown>) {
      return guarded(file, () => (fn as (db: Db, ...rest: ReadonlyArray<unknown>) => unknown)(db, ...args))
    })
  }
  return lifted as Lift<M>
}

export interface StoreShape {
  readonly file: string
  readonly runs: Lift<typeof runs>
  readonly experiments: Lift<typeof experiments>
  readonly outer: Lift<typeof outer>
  readonly llmCalls: Lift<typeof llmCalls>
  readonly library: Lift<typeof library>
  /** Runs `f` in one IMMEDIATE transaction; `f` uses the plain repository functions with the handle. */
  readonly transaction: <A>(f: (db: Db) => A) => Effect.Effect<A>
  /** Synchronous access for read-heavy code (reports); do not hold the handle across effects. */
  readonly use: <A>(f: (db: Db) => A) => Effect.Effect<A>
}

export const makeStore = (db: Db, file: string): StoreShape => ({
  file,
  runs: lift(db, file, "runs", runs),
  experiments: lift(db, file, "experiments", experiments),
  outer: lift(db, file, "outer", outer),
  llmCalls: lift(db, file, "llmCalls", llmCalls),
  library: lift(db, file, "library", library),
  transaction: (f) => Effect.sync(() => guarded(file, () => db.transaction(() => f(db)).immediate())),
  use: (f) => Effect.sync(() => guarded(file, () => f(db))),
})

/** Opens a store file (creating and migrating it); the handle closes with the scope. */
export const acquireStore = (file: string, options: OpenOptions = {}) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => openDatabase(file, options),
      catch: (error) =>
        error instanceof OpenStoreFailure ? new StoreError({ message: error.message }) : new StoreError({ message: `cannot open store ${file}: ${String(error)}` }),
    }),
    (db) => Effect.sync(() => db.close()),
  ).pipe(Effect.map((db) => makeStore(db, file)))

export class Store extends Context.Service<Store, StoreShape>()("twoloop/Store") {
  static readonly layer = (file: string, options: OpenOptions = {}) => Layer.effect(Store, acquireStore(file, options))
}

/** The cross-project prompt library: a second store, at `$TWOLOOP_HOME/library.db`. */
export class Library extends Context.Service<Library, StoreShape>()("twoloop/Library") {
  static readonly layer = (file: string) => Layer.effect(Library, acquireStore(file))
}
