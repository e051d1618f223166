// Tiny DOM and formatting helpers. Store text only ever reaches the page as text nodes (never innerHTML).

/** h("a", { href, class, onclick, dataset: {...} }, child, ...) → element; children may be strings, nodes, arrays, null. */
export const h = (tag, attributes = {}, ...children) => {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (key === "class") element.className = value
    else if (key === "dataset") Object.assign(element.dataset, value)
    else if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value)
    else if (key === "text") element.textContent = String(value)
    else if (value === true) element.setAttribute(key, "")
    else element.setAttribute(key, String(value))
  }
  append(element, children)
  return element
}

const append = (element, children) => {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(element, child)
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

export const clear = (element) => {
  while (element.firstChild) element.firstChild.remove()
  return element
}

export const replace = (element, ...children) => {
  clear(element)
  append(element, children)
  return element
}

const finite = (value) => typeof value === "number" && Number.isFinite(value)

export const num = (value, digits = 5) => (finite(value) ? String(Number(value.toPrecision(digits))) : "–")
export const signed = (value, digits = 4) => (finite(value) ? `${value >= 0 ? "+" : ""}${num(value, digits)}` : "–")
export const money = (value) => (value === null || value === undefined ? "unknown" : `$${value.toFixed(value < 0.01 && value > 0 ? 5 : 4)}`)
export const percent = (value) => (finite(value) ? `${(value * 100).toFixed(1)} %` : "–")
export const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "–")
export const dateTime = (iso) => (iso ? `${iso.slice(0, 10)} ${new Date(iso).toLocaleTimeString([], { hour12: false })}` : "–")
export const seconds = (value) => (finite(value) ? (value < 60 ? `${value.toFixed(value < 10 ? 2 : 1)} s` : `${Math.floor(value / 60)}m${String(Math.round(value % 60)).padStart(2, "0")}s`) : "–")

export const elapsed = (from, to) => {
  if (!from) return "–"
  const total = Math.max(0, Math.round(((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000))
  return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, "0")}s`
}

export const badge = (status, extra = "") => h("span", { class: `badge status-${status} ${extra}`.trim() }, status)

/** A unified diff as lines coloured by kind. */
export const diffView = (diff, truncated = false) => {
  if (!diff) return h("p", { class: "muted" }, "no diff")
  const lines = diff.split("\n").map((line) => {
    const kind = line.startsWith("+++") || line.startsWith("---") ? "file" : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx"
    return h("span", { class: `diff-${kind}` }, `${line}\n`)
  })
  return h("pre", { class: "diff" }, lines, truncated ? h("span", { class: "muted" }, "… (diff truncated; open the experiment for all of it)") : null)
}

export const pre = (text, className = "") => h("pre", { class: `text ${className}`.trim() }, text ?? "")

export const section = (id, title, ...children) => h("section", { id, class: "panel" }, h("h2", {}, title), ...children)

export const table = (name, headers, rows, emptyText = "nothing yet") =>
  h(
    "table",
    { class: "grid", dataset: { table: name } },
    h("thead", {}, h("tr", {}, headers.map((header) => h("th", {}, header)))),
    h("tbody", {}, rows.length > 0 ? rows : h("tr", { class: "empty" }, h("td", { colspan: String(headers.length) }, emptyText))),
  )
