import type { Db } from "./open.ts"

/**
 * Versioned schema migrations for the twoloop store. The applied version lives in `PRAGMA user_version`.
 * Migrations only ever append; each runs in one transaction. Documented in docs/schema.md.
 */

export interface Migration {
  readonly version: number
  readonly description: string
  readonly sql: string
  /** Data changes SQL cannot express, run after `sql` in the same transaction. */
  readonly run?: (db: Db) => void
}

/** Version 2: a handoff's kept edits carry the edit itself (`edit`), no longer its JSON text (`editJson`). */
const keptEditsAsObjects = (db: Db) => {
  const rows = db.prepare(`SELECT id, input_json, handoff_json FROM stages WHERE input_json LIKE '%"editJson"%' OR handoff_json LIKE '%"editJson"%'`).all() as Array<{
    id: number
    input_json: string | null
    handoff_json: string | null
  }>
  const upgrade = (text: string | null) => {
    if (text === null) return null
    const handoff = JSON.parse(text) as { keptEdits?: Array<Record<string, unknown>> }
    if (!Array.isArray(handoff.keptEdits)) return text
    handoff.keptEdits = handoff.keptEdits.map(({ editJson, ...rest }) => (typeof editJson === "string" ? { ...rest, edit: JSON.parse(editJson) } : rest))
    return JSON.stringify(handoff)
  }
  const update = db.prepare(`UPDATE stages SET input_json = ?, handoff_json = ? WHERE id = ?`)
  for (const row of rows) update.run(upgrade(row.input_json), upgrade(row.handoff_json), row.id)
}

export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    description: "runs, stages, llm ledger, outer level (candidates, evaluations, proposals), inner level (experiments), prompt library",
    sql: `
CREATE TABLE runs (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('running','completed','failed','interrupted')),
  config_file     TEXT NOT NULL,
  config_json     TEXT NOT NULL,
  config_hash     TEXT NOT NULL,
  arms_json       TEXT NOT NULL,
  target_dir      TEXT NOT NULL,
  target_commit   TEXT,
  target_dirty    INTEGER NOT NULL DEFAULT 0,
  run_dir         TEXT NOT NULL,
  started_at      TEXT NOT NULL,
  ended_at        TEXT,
  error           TEXT,
  lock_owner      TEXT,
  lock_heartbeat  INTEGER
);

CREATE TABLE stages (
  id           INTEGER PRIMARY KEY,
  run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  arm          TEXT NOT NULL,
  position     INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  name         TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending','running','completed','failed','interrupted')),
  input_json   TEXT,
  handoff_json TEXT,
  state_json   TEXT,
  summary_json TEXT,
  started_at   TEXT,
  ended_at     TEXT,
  error        TEXT,
  UNIQUE (run_id, arm, position)
);

CREATE TABLE llm_calls (
  id             INTEGER PRIMARY KEY,
  run_id         TEXT REFERENCES runs(id) ON DELETE CASCADE,
  stage_id       INTEGER REFERENCES stages(id) ON DELETE CASCADE,
  purpose        TEXT NOT NULL,
  model          TEXT NOT NULL,
  prompt_hash    TEXT NOT NULL,
  template_hash  TEXT,
  prompt_text    TEXT NOT NULL,
  response_text  TEXT,
  input_tokens   INTEGER,
  output_tokens  INTEGER,
  cost_usd       REAL,
  latency_ms     INTEGER NOT NULL,
  cached         INTEGER NOT NULL DEFAULT 0,
  attempt        INTEGER NOT NULL DEFAULT 1,
  error          TEXT,
  created_at     TEXT NOT NULL
);
CREATE INDEX llm_calls_run ON llm_calls (run_id, stage_id);
CREATE INDEX llm_calls_cache ON llm_calls (model, prompt_hash) WHERE error IS NULL;

CREATE TABLE candidates (
  id                INTEGER PRIMARY KEY,
  stage_id          INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
  idx               INTEGER NOT NULL,
  hash              TEXT NOT NULL,
  components_json   TEXT NOT NULL,
  parent1           INTEGER,
  parent2           INTEGER,
  origin            TEXT NOT NULL CHECK (origin IN ('seed','library','reflection','merge')),
  library_entry_id  TEXT,
  iteration         INTEGER NOT NULL,
  metric_calls      INTEGER NOT NULL,
  offline           INTEGER NOT NULL DEFAULT 0,
  created_at        TEXT NOT NULL,
  UNIQUE (stage_id, idx)
);

CREATE TABLE evaluations (
  stage_id        INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
  candidate_hash  TEXT NOT NULL,
  split           TEXT NOT NULL CHECK (split IN ('train','val')),
  example_id      TEXT NOT NULL,
  score           REAL NOT NULL,
  output_json     TEXT,
  trajectory_json TEXT,
  charged_iteration INTEGER NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (stage_id, candidate_hash, split, example_id)
) WITHOUT ROWID;

CREATE TABLE proposals (
  id                 INTEGER PRIMARY KEY,
  stage_id           INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
  iteration          INTEGER NOT NULL,
  kind               TEXT NOT NULL CHECK (kind IN ('reflection','merge','skip')),
  parent1            INTEGER,
  parent2            INTEGER,
  components_json    TEXT NOT NULL,
  minibatch_json     TEXT NOT NULL,
  sum_before         REAL,
  sum_after          REAL,
  accepted           INTEGER NOT NULL,
  reason             TEXT NOT NULL,
  reflection_prompt  TEXT,
  reflection_output  TEXT,
  child_idx          INTEGER,
  offline            INTEGER NOT NULL DEFAULT 0,
  metric_calls       INTEGER NOT NULL,
  created_at         TEXT NOT NULL,
  UNIQUE (stage_id, iteration)
);

CREATE TABLE reflections (
  stage_id     INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
  iteration    INTEGER NOT NULL,
  component    TEXT NOT NULL,
  prompt       TEXT NOT NULL,
  output       TEXT NOT NULL,
  offline      INTEGER NOT NULL,
  llm_call_id  INTEGER REFERENCES llm_calls(id),
  created_at   TEXT NOT NULL,
  PRIMARY KEY (stage_id, iteration, component)
) WITHOUT ROWID;

CREATE TABLE experiments (
  id              INTEGER PRIMARY KEY,
  stage_id        INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
  seq             INTEGER NOT NULL,
  worker          INTEGER NOT NULL,
  purpose         TEXT NOT NULL CHECK (purpose IN ('baseline','candidate','confirm','rebase','promote','proxy')),
  parent_id       INTEGER REFERENCES experiments(id),
  scenario        TEXT,
  status          TEXT NOT NULL CHECK (status IN ('planned','running','keep','discard','crash','timeout','rejected','measured')),
  proposer        TEXT NOT NULL,
  offline         INTEGER NOT NULL DEFAULT 0,
  base_commit     TEXT,
  result_commit   TEXT,
  direction       TEXT,
  rationale       TEXT,
  description     TEXT,
  edit_json       TEXT,
  diff            TEXT,
  seed            INTEGER NOT NULL,
  time_budget     REAL NOT NULL,
  metric          REAL,
  seconds         REAL,
  exit_code       INTEGER,
  signal          TEXT,
  peak_memory_mb  REAL,
  log_path        TEXT,
  log_tail        TEXT,
  reason          TEXT,
  judgement_json  TEXT,
  env_json        TEXT,
  pid             INTEGER,
  host            TEXT,
  job_id          TEXT,
  attempt         INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT NOT NULL,
  started_at      TEXT,
  ended_at        TEXT,
  UNIQUE (stage_id, seq)
);
CREATE INDEX experiments_stage_status ON experiments (stage_id, status);

CREATE TABLE library_entries (
  id                TEXT PRIMARY KEY,
  project           TEXT NOT NULL,
  target            TEXT NOT NULL,
  metric            TEXT NOT NULL,
  direction         TEXT NOT NULL,
  gain              REAL,
  run_id            TEXT,
  lineage_json      TEXT NOT NULL,
  model             TEXT NOT NULL,
  offline           INTEGER NOT NULL,
  components_json   TEXT NOT NULL,
  source            TEXT NOT NULL,
  created_at        TEXT NOT NULL
);

CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  stage_id    INTEGER REFERENCES stages(id) ON DELETE CASCADE,
  kind        TEXT NOT NULL,
  message     TEXT NOT NULL,
  data_json   TEXT,
  created_at  TEXT NOT NULL
);
CREATE INDEX events_run ON events (run_id, id);
`,
  },
  {
    version: 2,
    description: "handoffs hold kept edits as objects",
    sql: "",
    run: keptEditsAsObjects,
  },
]

export const latestVersion = migrations.at(-1)!.version
