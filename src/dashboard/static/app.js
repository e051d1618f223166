// The dashboard's entry: hash routes (#/ runs, #/run/<id>, #/compare/<id>,<id>...), and live refreshes when
// the store changes (at most one refresh in flight, one queued behind it).
import { ApiError, watchChanges } from "./api.js"
import { comparePage } from "./compare.js"
import { hideTooltip } from "./charts.js"
import { h, replace } from "./dom.js"
import { runPage } from "./run.js"
import { runsPage } from "./runs.js"

const app = document.getElementById("app")
const live = document.getElementById("live")
let page = null
let running = null
let queued = false

const showError = (error) => {
  const message =
    error instanceof ApiError && error.status === 401
      ? "This dashboard needs its token: open it with ?token=<token> (the page keeps it for this tab)."
      : error instanceof ApiError && error.status === 404
        ? error.message
        : `Could not load: ${error.message ?? error}`
  let banner = document.getElementById("error-banner")
  if (!banner) {
    banner = h("div", { id: "error-banner", class: "error-banner", role: "alert" })
    app.prepend(banner)
  }
  banner.textContent = message
}

const clearError = () => document.getElementById("error-banner")?.remove()

const refresh = async () => {
  if (!page) return
  if (running) {
    queued = true
    return running
  }
  const current = page
  running = current
    .refresh()
    .then(() => {
      clearError()
      app.dataset.loaded = String(Number(app.dataset.loaded ?? 0) + 1)
    })
    .catch(showError)
    .finally(() => {
      running = null
      if (queued && page === current) {
        queued = false
        void refresh()
      }
    })
  return running
}

const route = () => {
  hideTooltip()
  page?.destroy()
  replace(app)
  delete app.dataset.loaded
  const hash = window.location.hash.replace(/^#/, "") || "/"
  const [, kind, rest] = hash.split("/")
  if (kind === "run" && rest) page = runPage(app, decodeURIComponent(rest))
  else if (kind === "compare" && rest) page = comparePage(app, rest.split(",").map(decodeURIComponent).filter(Boolean))
  else page = runsPage(app)
  app.dataset.view = kind === "run" || kind === "compare" ? kind : "runs"
  void refresh()
}

window.addEventListener("hashchange", route)
route()

watchChanges(
  () => void refresh(),
  (status, version) => {
    live.textContent = status === "live" ? `live · ${new Date().toLocaleTimeString([], { hour12: false })}` : "reconnecting…"
    live.className = `live ${status}`
    if (version !== null && version !== undefined) live.dataset.version = version
  },
)
