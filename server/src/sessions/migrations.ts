/**
 * The SQLite schema, as an ordered list of migrations. `PRAGMA user_version` records how many have run; a migration is
 * never edited once released, only followed by another.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE workshop (
    id TEXT PRIMARY KEY,
    lab_id TEXT NOT NULL,
    join_code_hash TEXT,
    created_at TEXT NOT NULL
  );
  CREATE TABLE learners (
    id TEXT PRIMARY KEY,
    workshop_id TEXT NOT NULL REFERENCES workshop(id),
    name TEXT NOT NULL,
    seed INTEGER NOT NULL,
    cluster_id TEXT NOT NULL,
    current_stage INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
  );
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
  );
  CREATE INDEX sessions_learner ON sessions(learner_id);
  CREATE TABLE progress (
    learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
    stage_index INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('started', 'passed')),
    started_at TEXT NOT NULL,
    passed_at TEXT,
    PRIMARY KEY (learner_id, stage_index)
  );
  CREATE TABLE checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
    stage_index INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    result_json TEXT NOT NULL,
    at TEXT NOT NULL
  );
  CREATE INDEX checks_learner ON checks(learner_id, stage_index);
  CREATE TABLE answers (
    learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
    stage_index INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (learner_id, stage_index, question_id)
  );
  `,
  `
  CREATE TABLE pool_clusters (
    cluster_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
  );
  `,
  `
  ALTER TABLE pool_clusters ADD COLUMN seed INTEGER;
  ALTER TABLE pool_clusters ADD COLUMN prepared INTEGER NOT NULL DEFAULT 0;
  `,
  `
  ALTER TABLE pool_clusters ADD COLUMN lab_id TEXT;
  `,
];
