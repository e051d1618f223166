/**
 * The dashboard's HTTP surface, a Hono app: a JSON API over `DashboardQueries`, a Server-Sent Events feed
 * that says when the store changed, and the static front end. Only GET and HEAD exist (anything else is
 * 405: the dashboard cannot modify the store); every request passes the access policy first.
 */
import { Hono } from "hono"
import { getCookie, setCookie } from "hono/cookie"
import { secureHeaders } from "hono/secure-headers"
import { streamSSE } from "hono/streaming"
import { type AccessPolicy, bearerOf, decideAccess, sessionCookie } from "./access.ts"
import type { Asset } from "./assets.ts"
import { redactorOf, secretValues } from "../common/secrets.ts"
import type { DashboardQueries } from "./queries.ts"

/** Polls the store's change token and tells subscribers when it moves; `null` means the feed closed. */
export interface ChangeFeed {
  readonly subscribe: (listener: (version: string | null) => void) => () => void
  readonly close: () => void
}

export const changeFeed = (version: () => string, intervalMs = 500): ChangeFeed => {
  let current = version()
  const listeners = new Set<(version: string | null) => void>()
  const timer = setInterval(() => {
    let next: string
    try {
      next = version()
    } catch {
      return
    }
    if (next === current) return
    current = next
    for (const listener of listeners) listener(next)
  }, intervalMs)
  timer.unref()
  return {
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: () => {
      clearInterval(timer)
      for (const listener of listeners) listener(null)
      listeners.clear()
    },
  }
}

export interface DashboardAppOptions {
  readonly queries: DashboardQueries
  readonly policy: AccessPolicy
  readonly assets: ReadonlyMap<string, Asset>
  readonly changes: ChangeFeed
  /** Secret values to redact from every API response (default: those in this process's environment). */
  readonly secrets?: ReadonlyArray<string>
}

const positiveInt = (text: string | undefined): number | undefined => {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined
  return Number(text)
}

const listParam = (text: string | undefined): Array<string> =>
  (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)

export const dashboardApp = (options: DashboardAppOptions): Hono => {
  const { queries, policy, assets, changes } = options
  const secrets = options.secrets ?? secretValues()
  const redact = secrets.length > 0 ? redactorOf(secrets) : undefined
  const app = new Hono()

  app.use(async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      return c.json({ error: "the dashboard is read-only: only GET and HEAD are served" }, 405, { Allow: "GET, HEAD" })
    }
    const decision = decideAccess(policy, new URL(c.req.url).hostname, {
      bearer: bearerOf(c.req.header("authorization")),
      query: c.req.query("token"),
      cookie: getCookie(c, sessionCookie),
    })
    if (!decision.allowed) return c.json({ error: decision.message }, decision.status)
    if (decision.setSession) setCookie(c, sessionCookie, policy.session, { httpOnly: true, sameSite: "Strict", path: "/" })
    await next()
  })

  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: "no-referrer",
      strictTransportSecurity: false,
    }),
  )

  app.use("/api/*", async (c, next) => {
    await next()
    if (!c.res.headers.has("cache-control")) c.header("Cache-Control", "no-store")
  })

  // What twoloop stores is redacted when written; this also hides any secret of the dashboard's own
  // environment that a store written elsewhere (or by an older twoloop) might hold.
  if (redact) {
    app.use("/api/*", async (c, next) => {
      await next()
      if (!(c.res.headers.get("content-type") ?? "").includes("application/json")) return
      const text = await c.res.text()
      const headers = new Headers(c.res.headers)
      headers.delete("content-length")
      c.res = new Response(redact(text), { status: c.res.status, headers })
    })
  }

  const notFound = (what: string) => ({ error: `no ${what} in this store` })

  app.get("/api/version", (c) => c.json({ version: queries.version() }))
  app.get("/api/store", (c) => c.json(queries.storeInfo()))
  app.get("/api/runs", (c) => c.json({ runs: queries.runs() }))
  app.get("/api/runs/:id", (c) => {
    const page = queries.run(c.req.param("id"))
    return page ? c.json(page) : c.json(notFound(`run ${c.req.param("id")}`), 404)
  })
  app.get("/api/runs/:id/experiments", (c) => {
    const stage = c.req.query("stage")
    const page = queries.experiments(c.req.param("id"), { statuses: listParam(c.req.query("status")), stageId: stage ? (positiveInt(stage) ?? -1) : undefined })
    return page ? c.json(page) : c.json(notFound(`run ${c.req.param("id")}`), 404)
  })
  app.get("/api/runs/:id/outer", (c) => {
    const outer = queries.outer(c.req.param("id"))
    return outer ? c.json({ stages: outer }) : c.json(notFound(`run ${c.req.param("id")}`), 404)
  })
  app.get("/api/runs/:id/llm", (c) => {
    const llm = queries.llm(c.req.param("id"))
    return llm ? c.json(llm) : c.json(notFound(`run ${c.req.param("id")}`), 404)
  })
  app.get("/api/experiments/:id", (c) => {
    const id = positiveInt(c.req.param("id"))
    const experiment = id === undefined ? undefined : queries.experiment(id)
    return experiment ? c.json(experiment) : c.json(notFound(`experiment ${c.req.param("id")}`), 404)
  })
  app.get("/api/stages/:stage/proposals/:iteration", (c) => {
    const stage = positiveInt(c.req.param("stage"))
    const iteration = positiveInt(c.req.param("iteration"))
    const proposal = stage === undefined || iteration === undefined ? undefined : queries.proposal(stage, iteration)
    return proposal ? c.json(proposal) : c.json(notFound(`proposal ${c.req.param("iteration")} of stage ${c.req.param("stage")}`), 404)
  })
  app.get("/api/llm-calls/:id", (c) => {
    const id = positiveInt(c.req.param("id"))
    const call = id === undefined ? undefined : queries.llmCall(id)
    return call ? c.json(call) : c.json(notFound(`LLM call ${c.req.param("id")}`), 404)
  })
  app.get("/api/compare", (c) => {
    const runIds = listParam(c.req.query("runs")).slice(0, 12)
    if (runIds.length === 0) return c.json({ error: "give the runs to compare: /api/compare?runs=<id>,<id>" }, 400)
    return c.json({ runs: queries.compare(runIds) })
  })

  app.get("/api/changes", (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ event: "version", data: JSON.stringify({ version: queries.version() }), retry: 2000 })
      await new Promise<void>((resolve) => {
        const heartbeat = setInterval(() => void stream.write(": keep-alive\n\n").catch(() => undefined), 15_000)
        const stop = () => {
          clearInterval(heartbeat)
          unsubscribe()
          resolve()
        }
        const unsubscribe = changes.subscribe((version) => {
          if (version === null) return stop()
          void stream.writeSSE({ event: "change", data: JSON.stringify({ version }) }).catch(stop)
        })
        stream.onAbort(stop)
      })
    }),
  )

  app.get("/api/*", (c) => c.json({ error: `no API route ${new URL(c.req.url).pathname}` }, 404))

  app.get("*", (c) => {
    const found = assets.get(new URL(c.req.url).pathname)
    if (!found) return c.text("not found", 404)
    if (c.req.header("if-none-match") === found.etag) return c.body(null, 304, { ETag: found.etag })
    return c.body(found.body as Uint8Array<ArrayBuffer>, 200, { "Content-Type": found.type, ETag: found.etag, "Cache-Control": "no-cache" })
  })

  app.onError((error, c) => c.json({ error: `internal error: ${error.message.split("\n")[0]}` }, 500))
  return app
}
