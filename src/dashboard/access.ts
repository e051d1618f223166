/**
 * Who may talk to the dashboard. Loopback by default: no token, but requests must name a loopback host
 * (so a web page that rebinds its DNS name to 127.0.0.1 is refused). Any other bind address needs a token,
 * which every request carries as `Authorization: Bearer`, `?token=`, or the session cookie set after a
 * request that carried it. Comparisons are constant-time. Pure functions; the server applies them.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

/** Hostnames and addresses that only this machine can reach. */
export const isLoopbackHost = (host: string): boolean => {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  const lower = bare.toLowerCase()
  if (lower === "localhost" || lower.endsWith(".localhost")) return true
  if (lower === "::1" || lower === "0:0:0:0:0:0:0:1") return true
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(lower)) return true
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(lower)
}

/** Why the dashboard must not start with these settings, or undefined when it may. */
export const startupRefusal = (host: string, token: string | undefined): string | undefined => {
  if (token !== undefined && token.length < 8) return "the dashboard token must be at least 8 characters long"
  if (!isLoopbackHost(host) && token === undefined)
    return `--host ${host} is not a loopback address: anyone who can reach it could read the store; give --token (or set TWOLOOP_DASHBOARD_TOKEN) so every request must carry it`
  return undefined
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** Constant-time equality of two secrets (hashed first, so their lengths leak nothing either). */
export const secretsMatch = (expected: string, given: string | undefined): boolean =>
  given !== undefined && timingSafeEqual(digest(expected), digest(given))

export const sessionCookie = "twoloop_dashboard"

export interface Credentials {
  readonly bearer: string | undefined
  readonly query: string | undefined
  readonly cookie: string | undefined
}

export type AccessDecision =
  | { readonly allowed: true; readonly setSession: boolean }
  | { readonly allowed: false; readonly status: 401 | 403; readonly message: string }

export interface AccessPolicy {
  /** The token requests must carry; undefined on loopback without one. */
  readonly token: string | undefined
  /** A random per-process value the session cookie holds once a request proved the token. */
  readonly session: string
}

export const accessPolicy = (token: string | undefined): AccessPolicy => ({ token, session: randomBytes(32).toString("hex") })

/** Reads `Authorization: Bearer <token>`. */
export const bearerOf = (header: string | undefined): string | undefined => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")
  return match?.[1]
}

/** Decides one request from the hostname it was addressed to and the credentials it carries. */
export const decideAccess = (policy: AccessPolicy, hostname: string, credentials: Credentials): AccessDecision => {
  if (policy.token === undefined) {
    if (!isLoopbackHost(hostname)) return { allowed: false, status: 403, message: `requests must address a loopback host, not ${hostname}` }
    return { allowed: true, setSession: false }
  }
  if (secretsMatch(policy.token, credentials.bearer)) return { allowed: true, setSession: false }
  if (secretsMatch(policy.token, credentials.query)) return { allowed: true, setSession: true }
  if (secretsMatch(policy.session, credentials.cookie)) return { allowed: true, setSession: false }
  return { allowed: false, status: 401, message: "this dashboard needs its token: Authorization: Bearer <token>, or open it once with ?token=<token>" }
}
