/**
 * Starting the dashboard: refuse an exposed host without a token or a bad port (ConfigError, before anything
 * is opened), open the store read-only (StoreError: missing, not SQLite, wrong schema), then listen
 * (ConfigError: address in use, cannot bind). Everything is scoped: closing the scope stops the server, the change feed and the
 * database handle. The handle is opened with `readonly: true` and `query_only`, so no code path can write.
 */
import { createAdaptorServer } from "@hono/node-server"
import { Effect } from "effect"
import type * as http from "node:http"
import type { AddressInfo } from "node:net"
import { ConfigError, StoreError } from "../domain/errors.ts"
import { type Db, openDatabase, OpenStoreFailure } from "../services/store/open.ts"
import { accessPolicy, startupRefusal } from "./access.ts"
import { loadAssets } from "./assets.ts"
import { makeQueries } from "./queries.ts"
import { changeFeed, dashboardApp } from "./server.ts"

export interface DashboardOptions {
  readonly file: string
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  readonly token?: string | undefined
  /** How often the change token is polled for live updates (ms). */
  readonly pollMs?: number
}

export interface OpenedDashboard {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly tokenRequired: boolean
}

/** Opens a store file read-only; throws OpenStoreFailure with a one-line message naming the file. */
export const openReadOnly = (file: string): Db => {
  const db = openDatabase(file, { readonly: true })
  db.pragma("query_only = ON")
  return db
}

const urlHost = (host: string) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)

type FetchHandler = Parameters<typeof createAdaptorServer>[0]["fetch"]

const listen = (fetch: FetchHandler, host: string, port: number) =>
  Effect.callback<http.Server, ConfigError>((resume) => {
    const server = createAdaptorServer({ fetch }) as http.Server
    server.once("error", (error: NodeJS.ErrnoException) =>
      resume(Effect.fail(new ConfigError({ message: `the dashboard cannot listen on ${urlHost(host)}:${port}: ${error.code === "EADDRINUSE" ? "address in use (try --port 0)" : (error.code ?? error.message)}` }))),
    )
    server.listen(port, host, () => resume(Effect.succeed(server)))
  })

const closeServer = (server: http.Server) =>
  Effect.callback<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })

export const openDashboard = (options: DashboardOptions) =>
  Effect.gen(function* () {
    const refusal = startupRefusal(options.host, options.token)
    if (refusal !== undefined) return yield* new ConfigError({ message: refusal })
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
      return yield* new ConfigError({ message: `--port ${options.port}: expected a port number from 0 to 65535 (0 picks a free one)` })
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => openReadOnly(options.file),
        catch: (error) => new StoreError({ message: error instanceof OpenStoreFailure ? error.message : `cannot open store ${options.file}: ${String(error)}` }),
      }),
      (db) => Effect.sync(() => db.close()),
    )
    const queries = makeQueries(db, options.file)
    const changes = yield* Effect.acquireRelease(
      Effect.sync(() => changeFeed(queries.version, options.pollMs)),
      (feed) => Effect.sync(() => feed.close()),
    )
    const app = dashboardApp({ queries, policy: accessPolicy(options.token), assets: loadAssets(), changes })
    const server = yield* Effect.acquireRelease(listen(app.fetch, options.host, options.port), closeServer)
    const { port } = server.address() as AddressInfo
    return { url: `http://${urlHost(options.host)}:${port}/`, host: options.host, port, tokenRequired: options.token !== undefined } satisfies OpenedDashboard
  })

/** Resolves on the first SIGINT or SIGTERM (the CLI serves until then). */
export const untilSignal = Effect.callback<void>((resume) => {
  const stop = () => resume(Effect.void)
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  return Effect.sync(() => {
    process.off("SIGINT", stop)
    process.off("SIGTERM", stop)
  })
})
