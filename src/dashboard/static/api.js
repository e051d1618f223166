// Talking to the dashboard server: the token (taken from ?token= once, kept for this tab, removed from the
// address bar), JSON reads, and the live change feed (Server-Sent Events).

const tokenKey = "twoloop-dashboard-token"

const takeToken = () => {
  const url = new URL(window.location.href)
  const fromQuery = url.searchParams.get("token")
  if (fromQuery) {
    sessionStorage.setItem(tokenKey, fromQuery)
    url.searchParams.delete("token")
    window.history.replaceState(null, "", `${url.pathname}${url.search}${url.hash}`)
  }
  return sessionStorage.getItem(tokenKey)
}

const token = takeToken()

export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

export const getJson = async (path) => {
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: "no-store" })
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }))
  if (!response.ok) throw new ApiError(response.status, body.error ?? `${response.status} ${response.statusText}`)
  return body
}

/**
 * Calls `onChange(version)` whenever the store changes, `onStatus("live" | "reconnecting", version)` as the
 * connection comes and goes. The browser reconnects by itself.
 */
export const watchChanges = (onChange, onStatus) => {
  const source = new EventSource(token ? `/api/changes?token=${encodeURIComponent(token)}` : "/api/changes")
  let last = null
  source.addEventListener("version", (event) => {
    const { version } = JSON.parse(event.data)
    onStatus("live", version)
    if (last !== null && version !== last) onChange(version)
    last = version
  })
  source.addEventListener("change", (event) => {
    const { version } = JSON.parse(event.data)
    last = version
    onStatus("live", version)
    onChange(version)
  })
  source.addEventListener("error", () => onStatus("reconnecting", last))
  return () => source.close()
}
