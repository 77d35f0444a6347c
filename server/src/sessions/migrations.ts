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
  `
  ALTER TABLE workshop ADD COLUMN title TEXT;
  ALTER TABLE workshop ADD COLUMN state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('draft', 'open', 'paused', 'ended'));
  ALTER TABLE workshop ADD COLUMN capacity INTEGER;
  ALTER TABLE workshop ADD COLUMN starts_at TEXT;
  ALTER TABLE workshop ADD COLUMN ends_at TEXT;
  ALTER TABLE workshop ADD COLUMN ended_at TEXT;
  ALTER TABLE workshop ADD COLUMN instructor_token_hash TEXT;
  ALTER TABLE workshop ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;
  UPDATE workshop SET is_default = 1;
  CREATE INDEX workshop_join_code ON workshop(join_code_hash);
  CREATE INDEX workshop_instructor ON workshop(instructor_token_hash);
  ALTER TABLE learners ADD COLUMN pin_hash TEXT;
  ALTER TABLE learners ADD COLUMN resume_hash TEXT;
  ALTER TABLE learners ADD COLUMN resume_generation INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX learners_workshop ON learners(workshop_id, name);
  CREATE UNIQUE INDEX learners_resume ON learners(resume_hash);
  ALTER TABLE pool_clusters ADD COLUMN workshop_id TEXT;
  UPDATE pool_clusters SET workshop_id = (SELECT w.id FROM workshop w WHERE w.lab_id = pool_clusters.lab_id LIMIT 1);
  CREATE TABLE instructor_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workshop_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail_json TEXT,
    at TEXT NOT NULL
  );
  CREATE INDEX instructor_actions_workshop ON instructor_actions(workshop_id, id);
  `,
];
