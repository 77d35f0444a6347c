/**
 * The Postgres schema, as an ordered list of migrations (the same tables as SQLite's `sessions/migrations.ts`, plus
 * what several replicas share: leases, cluster journals and snapshots, terminal scrollback, homes). The table
 * `egresslab_schema` records how many have run; a migration is never edited once released, only followed by another.
 * Timestamps are ISO-8601 text, as in SQLite, so both stores hand the same values back.
 */
export const pgMigrations: readonly string[] = [
  `
  CREATE TABLE workshop (
    id TEXT PRIMARY KEY,
    lab_id TEXT NOT NULL,
    join_code_hash TEXT,
    created_at TEXT NOT NULL,
    title TEXT,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('draft', 'open', 'paused', 'ended')),
    capacity INTEGER,
    starts_at TEXT,
    ends_at TEXT,
    ended_at TEXT,
    instructor_token_hash TEXT,
    is_default INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX workshop_join_code ON workshop(join_code_hash);
  CREATE INDEX workshop_instructor ON workshop(instructor_token_hash);
  CREATE TABLE learners (
    seq BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    workshop_id TEXT NOT NULL REFERENCES workshop(id),
    name TEXT NOT NULL,
    seed BIGINT NOT NULL,
    cluster_id TEXT NOT NULL,
    current_stage INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    pin_hash TEXT,
    resume_hash TEXT UNIQUE,
    resume_generation INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX learners_workshop ON learners(workshop_id, name);
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
    id BIGSERIAL PRIMARY KEY,
    learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
    stage_index INTEGER NOT NULL,
    passed BOOLEAN NOT NULL,
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
  -- Warm clusters live in one replica's memory: each replica keeps its own.
  CREATE TABLE pool_clusters (
    replica TEXT NOT NULL,
    cluster_id TEXT PRIMARY KEY,
    lab_id TEXT,
    workshop_id TEXT,
    seed BIGINT,
    prepared BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL
  );
  CREATE TABLE instructor_actions (
    id BIGSERIAL PRIMARY KEY,
    workshop_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail_json TEXT,
    at TEXT NOT NULL
  );
  CREATE INDEX instructor_actions_workshop ON instructor_actions(workshop_id, id);
  -- Which replica holds a learner's cluster and shell, until when (renewed while it lives).
  CREATE TABLE leases (
    cluster_id TEXT PRIMARY KEY,
    replica TEXT NOT NULL,
    address TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
  );
  -- A simulated cluster's state: the snapshot, then every journal entry past its resourceVersion.
  CREATE TABLE cluster_snapshots (
    cluster_id TEXT PRIMARY KEY,
    resource_version BIGINT NOT NULL,
    state TEXT NOT NULL,
    dataplane TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE cluster_journal (
    cluster_id TEXT NOT NULL,
    resource_version BIGINT NOT NULL,
    changes TEXT NOT NULL,
    PRIMARY KEY (cluster_id, resource_version)
  );
  -- A learner's home directory, as a tar archive, saved while their shell runs and restored on another replica.
  CREATE TABLE homes (
    learner_id TEXT PRIMARY KEY,
    archive BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  -- The terminal's recent output, so a page reconnecting to another replica sees what was on its screen.
  CREATE TABLE scrollback (
    learner_id TEXT PRIMARY KEY,
    data BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  `,
  // Scrollback as chunks addressed by character offset (the unused one-row-per-learner table goes): a replica
  // writes only what is new, in batches, and a page reconnecting to another replica keeps its offsets.
  `
  DROP TABLE scrollback;
  CREATE TABLE scrollback_chunks (
    learner_id TEXT NOT NULL,
    start_offset BIGINT NOT NULL,
    chars INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (learner_id, start_offset)
  );
  `,
  // The kubeconfig pool's leases: one per pool entry (cluster) and per id, renewed by the replica that holds it.
  `
  CREATE TABLE kubeconfig_leases (
    cluster TEXT PRIMARY KEY,
    holder TEXT NOT NULL UNIQUE,
    replica TEXT NOT NULL,
    since TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
  );
  CREATE INDEX kubeconfig_leases_replica ON kubeconfig_leases(replica);
  `,
  // Live replicas: a heartbeat each, so work divided among them (the warm pool) follows them coming and going.
  `
  CREATE TABLE replicas (
    name TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
  );
  `,
  // A lease's generation: a new number each time a cluster's lease passes to a replica that did not hold it, so a
  // replica's write of cluster state can be fenced to the holding it started under.
  `
  CREATE SEQUENCE lease_generation;
  ALTER TABLE leases ADD COLUMN generation BIGINT NOT NULL DEFAULT nextval('lease_generation');
  `,
];
