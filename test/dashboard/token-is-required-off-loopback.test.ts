/**
 * Who may read the dashboard: loopback needs no token but refuses requests addressed to other host names (DNS
 * rebinding); any other bind address refuses to start without a token; with a token every request (API,
 * live feed, static files) must carry it, as a Bearer header, `?token=` (which sets an HttpOnly session
 * cookie for the page's own asset loads), or that cookie.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { accessPolicy, decideAccess, isLoopbackHost, secretsMatch, sessionCookie, startupRefusal } from "../../src/dashboard/access.ts"
import { openDashboard } from "../../src/dashboard/openDashboard.ts"
import { twoloop } from "../support/cli.ts"
import { tempDir } from "../support/tmp.ts"
import { get, type RealStore, realStore, type TestDashboard, testDashboard } from "./support.ts"

const token = "s3cret-token-for-tests"

let store: RealStore
let guarded: TestDashboard
let open: TestDashboard

beforeAll(async () => {
  store = await realStore([{ experiments: 3 }])
  guarded = testDashboard(store.file, { token })
  open = testDashboard(store.file)
})

afterAll(() => {
  guarded?.close()
  open?.close()
})

describe("loopback detection and the startup rule", () => {
  it("knows loopback addresses from exposed ones", () => {
    for (const host of ["127.0.0.1", "127.3.2.1", "localhost", "app.localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) expect(isLoopbackHost(host), host).toBe(true)
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "localhost.example.com", "128.0.0.1", "[::]"]) expect(isLoopbackHost(host), host).toBe(false)
  })

  it("refuses an exposed host without a token, and tokens that are too short", () => {
    expect(startupRefusal("127.0.0.1", undefined)).toBeUndefined()
    expect(startupRefusal("0.0.0.0", token)).toBeUndefined()
    expect(startupRefusal("0.0.0.0", undefined)).toMatch(/^--host 0\.0\.0\.0 is not a loopback address: .*--token/)
    expect(startupRefusal("127.0.0.1", "short")).toMatch(/at least 8 characters/)
  })

  it("compares secrets whatever their lengths", () => {
    expect(secretsMatch(token, token)).toBe(true)
    expect(secretsMatch(token, `${token}x`)).toBe(false)
    expect(secretsMatch(token, "")).toBe(false)
    expect(secretsMatch(token, undefined)).toBe(false)
    const policy = accessPolicy(token)
    expect(decideAccess(policy, "203.0.113.9", { bearer: token, query: undefined, cookie: undefined })).toEqual({ allowed: true, setSession: false })
    expect(decideAccess(policy, "203.0.113.9", { bearer: undefined, query: undefined, cookie: policy.session })).toEqual({ allowed: true, setSession: false })
    expect(decideAccess(policy, "203.0.113.9", { bearer: undefined, query: undefined, cookie: accessPolicy(token).session })).toMatchObject({ allowed: false, status: 401 })
  })
})

describe("a dashboard with a token", () => {
  it("refuses API, live feed and static files without the token", async () => {
    for (const route of ["/api/runs", "/api/changes", "/", "/app.js", "/vendor/chart.umd.min.js", `/api/runs/${store.runIds[0]}`]) {
      const response = await get(guarded, route)
      expect(response.status, route).toBe(401)
      expect(await response.text(), route).not.toContain(token)
    }
    expect((await get(guarded, "/api/runs", { headers: { Authorization: "Bearer wrong-token-123" } })).status).toBe(401)
    expect((await get(guarded, "/api/runs?token=wrong-token-123")).status).toBe(401)
  })

  it("accepts a Bearer header", async () => {
    const response = await get(guarded, "/api/runs", { headers: { Authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
    expect(((await response.json()) as any).runs).toHaveLength(1)
    expect(response.headers.get("set-cookie")).toBeNull()
  })

  it("accepts ?token= once and then the HttpOnly session cookie it sets, never echoing the token", async () => {
    const first = await get(guarded, `/?token=${token}`)
    expect(first.status).toBe(200)
    const cookie = first.headers.get("set-cookie")!
    expect(cookie).toMatch(new RegExp(`^${sessionCookie}=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict`))
    expect(cookie).not.toContain(token)
    expect(await first.text()).not.toContain(token)
    const session = cookie.split(";")[0]!
    for (const route of ["/app.js", "/vendor/chart.umd.min.js", "/api/runs"]) expect((await get(guarded, route, { headers: { Cookie: session } })).status, route).toBe(200)
  })

  it("applies the token on any host name (the token, not the name, is the guard)", async () => {
    expect((await get(guarded, "http://dashboard.example.org/api/runs", { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
  })

  it("enforces the token over a real socket too", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const dashboard = yield* openDashboard({ file: store.file, host: "127.0.0.1", port: 0, token })
          expect(dashboard.tokenRequired).toBe(true)
          const without = yield* Effect.promise(() => fetch(`${dashboard.url}api/runs`))
          expect(without.status).toBe(401)
          const withToken = yield* Effect.promise(() => fetch(`${dashboard.url}api/runs`, { headers: { Authorization: `Bearer ${token}` } }))
          expect(withToken.status).toBe(200)
        }),
      ),
    )
  })
})

describe("a loopback dashboard without a token", () => {
  it("serves requests addressed to loopback names and refuses other host names (DNS rebinding)", async () => {
    expect((await get(open, "http://127.0.0.1/api/runs")).status).toBe(200)
    expect((await get(open, "http://localhost:4000/api/runs")).status).toBe(200)
    expect((await get(open, "http://[::1]/api/runs")).status).toBe(200)
    const rebound = await get(open, "http://attacker.example/api/runs")
    expect(rebound.status).toBe(403)
    expect(((await rebound.json()) as any).error).toMatch(/loopback/)
  })
})

describe("twoloop dashboard refuses to start", () => {
  it("on a non-loopback host without a token, with one line and exit 1", async () => {
    const result = await twoloop(["dashboard", "--store", store.file, "--host", "0.0.0.0"], { env: { TWOLOOP_DASHBOARD_TOKEN: "" } })
    expect(result.exitCode).toBe(1)
    const lines = String(result.stderr).trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^twoloop: --host 0\.0\.0\.0 is not a loopback address: .*TWOLOOP_DASHBOARD_TOKEN/)
    expect(String(result.stdout)).toBe("")
  })

  it("on a missing store or a file that is not SQLite, naming the file", async () => {
    const dir = tempDir("twoloop-dashboard-bad-")
    const missing = path.join(dir, "absent.db")
    const notSqlite = path.join(dir, "notes.db")
    fs.writeFileSync(notSqlite, "these are not the rows you are looking for\n".repeat(4))
    const before = fs.readFileSync(notSqlite)
    for (const [file, pattern] of [
      [missing, /^twoloop: no store at .*absent\.db/],
      [notSqlite, /^twoloop: .*notes\.db is not a twoloop store \(not an SQLite database\)/],
    ] as const) {
      const result = await twoloop(["dashboard", "--store", file])
      expect(result.exitCode, file).toBe(1)
      const lines = String(result.stderr).trim().split("\n")
      expect(lines, file).toHaveLength(1)
      expect(lines[0], file).toMatch(pattern)
    }
    expect(fs.existsSync(missing)).toBe(false)
    expect(fs.readFileSync(notSqlite).equals(before)).toBe(true)
  })
})
