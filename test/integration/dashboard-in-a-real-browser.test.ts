/**
 * The dashboard in a real browser: `twoloop dashboard` (the compiled CLI) serves a store produced by real
 * short runs (GEPA outer stage, code search in two arms, the scripted researcher over a local
 * OpenAI-compatible server), and headless Chromium, driven by playwright-core, checks that the charts have
 * plotted points, the tables have rows, hovering a point shows its rationale and diff, and the page follows
 * a run that writes to the store while it is open. Screenshots go to test-output/dashboard/.
 *
 * Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it): without it the test skips with a
 * warning, except under CI=true, where it fails.
 */
import { Effect } from "effect"
import { execa, type ResultPromise } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunSummary } from "../../src/pipeline/runPipeline.ts"
import { configFor, runPipeline } from "../support/pipeline.ts"
import { type RealStore, realStore } from "../dashboard/support.ts"

// the page functions below run in the browser; the tests' tsconfig has no DOM types
declare const document: any
declare const window: any

const chromiumPath = "/usr/bin/chromium"
const hasChromium = fs.existsSync(chromiumPath)
const inCi = process.env.CI === "true"
const root = path.resolve(import.meta.dirname, "../..")
const outputDir = path.join(root, "test-output", "dashboard")
const chromiumFlags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if (!hasChromium && !inCi) console.warn(`skipping the dashboard browser test: no ${chromiumPath} (apt-get install chromium)`)

describe.runIf(!hasChromium && inCi)("the dashboard browser test in CI", () => {
  it("has a browser", () => {
    expect.fail(`CI must install Debian's chromium at ${chromiumPath} (see .ci/run)`)
  })
})

/** Starts the compiled CLI's dashboard and resolves with its URL once it prints it. */
const startCli = async (store: string) => {
  const child = execa(process.execPath, [path.join(root, "dist/bin/twoloop.js"), "dashboard", "--store", store, "--port", "0"], { cwd: root, reject: false, env: { TWOLOOP_DASHBOARD_TOKEN: "" } })
  const url = await new Promise<string>((resolve, reject) => {
    let seen = ""
    const timer = setTimeout(() => reject(new Error(`the dashboard did not start: ${seen}`)), 120_000)
    child.stdout!.on("data", (chunk: Buffer) => {
      seen += chunk.toString()
      const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.stderr!.on("data", (chunk: Buffer) => (seen += chunk.toString()))
    void child.then(() => reject(new Error(`the dashboard exited: ${seen}`)))
  })
  return { child, url }
}

/** Sum of the data points Chart.js has laid out on a canvas (elements with pixel positions). */
const plottedPoints = (page: Page, selector: string) =>
  page.evaluate((sel) => {
    const canvas = document.querySelector(sel)
    const chart = canvas && window.Chart.getChart(canvas)
    if (!chart) return -1
    return chart.data.datasets.reduce((sum: number, dataset: any, index: number) => sum + (dataset.countPoints === false ? 0 : chart.getDatasetMeta(index).data.filter((e: any) => Number.isFinite(e.x) && Number.isFinite(e.y)).length), 0)
  }, selector)

const rows = (page: Page, table: string) => page.locator(`table[data-table="${table}"] tbody tr:not(.empty)`).count()

describe.skipIf(!hasChromium)("the dashboard in a real browser", () => {
  let store: RealStore
  let cli: { child: ResultPromise; url: string }
  let browser: Browser
  let page: Page
  const problems: Array<string> = []

  beforeAll(async () => {
    fs.mkdirSync(outputDir, { recursive: true })
    store = await realStore([
      { outer: true, metricCalls: 28, experiments: 6 },
      { llm: true, outer: true, experiments: 6 },
    ])
    cli = await startCli(store.file)
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumFlags, headless: true })
    page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    // waits are for conditions; the limit only has to outlast a busy machine
    page.setDefaultTimeout(120_000)
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`)
    })
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
  })

  afterAll(async () => {
    await browser?.close()
    if (cli) {
      cli.child.kill("SIGINT")
      const result = await cli.child
      expect(result.exitCode).toBe(0)
    }
  })

  const open = async (hash: string) => {
    await page.goto(`${cli.url}${hash}`)
    await page.waitForSelector("#app[data-loaded]")
  }

  it("lists the runs", async () => {
    await open("#/")
    expect(await rows(page, "runs")).toBe(2)
    const first = page.locator(`tr[data-run="${store.runIds[1]}"]`)
    await expect(first.locator("td").nth(3).textContent()).resolves.toContain("completed")
    await expect(first.textContent()).resolves.toMatch(/loss 2\.\d+ → 1\.\d+/)
    await expect(page.locator("#live").getAttribute("class")).resolves.toContain("live")
    await page.screenshot({ path: path.join(outputDir, "runs.png"), fullPage: true })
  })

  it("shows a run: progress charts with plotted points, tables with rows, hover details, the outer stage and LLM cost", async () => {
    const runId = store.runIds[1]!
    await open(`#/run/${runId}`)
    const progress = page.locator('canvas[data-chart="progress"]')
    expect(await progress.count()).toBe(2)
    const experiments: any = await page.evaluate((id) => fetch(`/api/runs/${id}`).then((r) => r.json()), runId)
    for (const [index, series] of experiments.progress.entries()) {
      const selector = `canvas[data-key="progress:${series.stageId}"]`
      expect(await plottedPoints(page, selector), `stage ${series.stageId}`).toBe(series.points.length)
      expect(Number(await page.locator(selector).getAttribute("data-points"))).toBe(series.points.length)
      expect(series.points.length, `series ${index}`).toBeGreaterThan(3)
    }
    expect(await plottedPoints(page, 'canvas[data-chart="lineage"]')).toBeGreaterThan(0)
    expect(await plottedPoints(page, 'canvas[data-chart="pareto"]')).toBeGreaterThan(0)
    expect(await plottedPoints(page, 'canvas[data-chart="llm"]')).toBeGreaterThan(0)
    expect(await plottedPoints(page, 'canvas[data-chart="gains"]')).toBeGreaterThan(0)
    expect(await plottedPoints(page, 'canvas[data-chart="arms"]')).toBeGreaterThan(0)
    expect(await rows(page, "experiments")).toBeGreaterThan(10)
    expect(await rows(page, "gains")).toBe(3)
    expect(await rows(page, "llm-purposes")).toBeGreaterThan(1)
    expect(await rows(page, "llm-calls")).toBeGreaterThan(0)
    expect(await page.locator('table[data-table^="scores-"] tbody tr').count()).toBeGreaterThan(0)
    expect(await page.locator('table[data-table^="proposals-"] tbody tr').count()).toBeGreaterThan(0)
    expect(await page.locator("ul.tree li").count()).toBeGreaterThan(0)

    // hover the first kept point of the hybrid arm's chart: its description, rationale and diff appear
    const hybrid = experiments.progress[0]
    const canvas = page.locator(`canvas[data-key="progress:${hybrid.stageId}"]`)
    await canvas.scrollIntoViewIfNeeded()
    const point = await canvas.evaluate((element) => {
      const chart = window.Chart.getChart(element)
      const kept = chart.data.datasets.findIndex((d: any) => d.label === "kept")
      const { x, y } = chart.getDatasetMeta(kept).data[0]
      return { x, y }
    })
    const box = (await canvas.boundingBox())!
    await page.mouse.move(box.x + point.x, box.y + point.y)
    const tooltip = page.locator(".chart-tooltip.visible")
    await tooltip.waitFor()
    await expect(tooltip.textContent()).resolves.toMatch(/keep/)
    await expect(tooltip.textContent()).resolves.toMatch(/rationale: .*proxy feedback suggests it helps/)
    expect(await tooltip.locator(".diff-add").count()).toBeGreaterThan(0)
    await page.screenshot({ path: path.join(outputDir, "run-hover.png") })
    await page.mouse.move(0, 0)

    // the status filter narrows the table; a row opens the experiment with its diff and log tail
    await page.selectOption("#status-filter", "keep")
    await page.waitForFunction(() => [...document.querySelectorAll('table[data-table="experiments"] tbody tr')].every((tr: any) => tr.textContent.includes("keep")))
    const keptRows = await rows(page, "experiments")
    expect(keptRows).toBe(experiments.progress.reduce((s: number, p: any) => s + p.points.filter((x: any) => x.status === "keep").length, 0))
    await page.locator('table[data-table="experiments"] tbody tr').first().click()
    await page.locator("#experiment-detail pre.diff").waitFor()
    await expect(page.locator("#experiment-detail").textContent()).resolves.toMatch(/loss: \d/)

    // a proposal row opens its reflection prompt and reply
    await page.locator('table[data-table^="proposals-"] tbody tr[data-iteration]').first().click()
    await page.locator("tr.proposal-detail details").first().waitFor()
    await expect(page.locator("tr.proposal-detail").first().textContent()).resolves.toMatch(/reflection prompt/)

    await page.screenshot({ path: path.join(outputDir, "run.png"), fullPage: true })
    expect(problems).toEqual([])
  })

  it("draws an offline run's candidate lineage, Pareto front and score matrix", async () => {
    const runId = store.runIds[0]!
    await open(`#/run/${runId}`)
    const outer: any = await page.evaluate((id) => fetch(`/api/runs/${id}/outer`).then((r) => r.json()), runId)
    const stage = outer.stages[0]
    expect(stage.candidates.length).toBeGreaterThan(1)
    expect(await plottedPoints(page, `canvas[data-key="lineage:${stage.stageId}"]`)).toBe(stage.candidates.length)
    expect(await plottedPoints(page, `canvas[data-key="pareto:${stage.stageId}"]`)).toBe(stage.pareto.length * 3)
    expect(await page.locator(`[data-outer="${stage.stageId}"] ul.tree button.candidate`).count()).toBe(stage.candidates.length)
    expect(await rows(page, `scores-${stage.stageId}`)).toBe(stage.candidates.length)
    expect(await rows(page, `proposals-${stage.stageId}`)).toBe(stage.proposals.length)
    await page.locator(`[data-outer="${stage.stageId}"] ul.tree button.candidate`).last().click()
    await expect(page.locator(`[data-outer="${stage.stageId}"] .candidate-host`).textContent()).resolves.toMatch(/directions/)
    await expect(page.locator("#llm").textContent()).resolves.toMatch(/no LLM calls/)
    await page.locator("#outer").scrollIntoViewIfNeeded()
    await page.screenshot({ path: path.join(outputDir, "run-outer.png") })
    expect(problems).toEqual([])
  })

  it("compares the runs", async () => {
    await open("#/")
    for (const runId of store.runIds) await page.locator(`tr[data-run="${runId}"] input[type=checkbox]`).check()
    await page.getByRole("button", { name: "compare selected" }).click()
    await page.waitForFunction(() => document.getElementById("app")?.dataset.view === "compare" && document.getElementById("app")?.dataset.loaded)
    expect(await rows(page, "compare")).toBe(2)
    expect(await plottedPoints(page, 'canvas[data-chart="compare"]')).toBeGreaterThan(2)
    await page.screenshot({ path: path.join(outputDir, "compare.png"), fullPage: true })
    expect(problems).toEqual([])
  })

  it("follows a run that writes to the store while the page is open", async () => {
    await open("#/")
    const version = await page.locator("#live").getAttribute("data-version")
    expect(await rows(page, "runs")).toBe(2)
    // a third run, offline, its experiments held at a gate until the page has seen it in progress (a time
    // budget of 300 s puts the hard limit far above any wait at the gate)
    const gate = path.join(store.root, "live-gate")
    fs.writeFileSync(gate, "")
    const config = configFor(store.root, {
      name: "dashboard-live",
      target: { dir: "target", editable: ["train.mjs"], readonly: ["prepare.mjs"], command: "node train.mjs", metric: { name: "loss", direction: "minimize" }, timeBudgetSeconds: 300, env: { FIXTURE_WAIT_WHILE: gate } },
      executor: { kind: "local", gpus: "none" },
      stages: [{ kind: "code-search", name: "inner", budget: { experiments: 6 }, pipelining: false }],
    })
    const running = Effect.runPromise(runPipeline(config).effect as Effect.Effect<RunSummary, unknown>)
    await page.waitForFunction(() => document.querySelectorAll('table[data-table="runs"] tbody tr').length === 3)
    const newRow = page.locator('table[data-table="runs"] tbody tr').first()
    await expect(newRow.textContent()).resolves.toContain("dashboard-live")
    const runId = (await newRow.getAttribute("data-run"))!
    expect(await page.locator("#live").getAttribute("data-version")).not.toBe(version)

    // its page fills in while it runs: no point while the first experiment waits at the gate, all of them
    // once the gate opens and the run completes
    await open(`#/run/${runId}`)
    await page.waitForSelector('canvas[data-chart="progress"]')
    const early = Number(await page.locator('canvas[data-chart="progress"]').getAttribute("data-points"))
    expect(early).toBe(0)
    fs.rmSync(gate)
    const summary = await running
    expect(summary.status).toBe("completed")
    await page.waitForFunction(() => document.querySelector(".run-header")?.textContent?.includes("completed"))
    await page.waitForFunction((n) => Number(document.querySelector('canvas[data-chart="progress"]')?.getAttribute("data-points")) > n, early)
    const final: any = await page.evaluate((id) => fetch(`/api/runs/${id}`).then((r) => r.json()), runId)
    const late = await plottedPoints(page, 'canvas[data-chart="progress"]')
    expect(late).toBeGreaterThan(early)
    expect(late).toBe(final.progress[0].points.length)
    expect(await rows(page, "experiments")).toBe(final.report.inner.experiments)
    await page.screenshot({ path: path.join(outputDir, "run-live.png"), fullPage: true })
    expect(problems).toEqual([])
  })
})
