-- Race results and class records, kept by the merge (see src/merge/db.rs). The same tables as
-- the SQLite migrations, in PostgreSQL's types: every integer is BIGINT (ids and hundredths are
-- read as i64), the per-second outputs are BYTEA.

-- One row per race, class and racer: the per-second outputs (little-endian u32 hundredths, one
-- per second of the race, 0 where not ridden) and what is derived from them.
CREATE TABLE rides (
    class_id     BIGINT NOT NULL,
    race_id      BIGINT NOT NULL,
    racer_id     BIGINT NOT NULL,
    outputs      BYTEA  NOT NULL,
    seconds      BIGINT NOT NULL,
    total_centi  BIGINT NOT NULL,
    best_centi   BIGINT NOT NULL,
    final_second BIGINT NOT NULL,
    final_centi  BIGINT NOT NULL,
    PRIMARY KEY (class_id, race_id, racer_id)
);

-- Each racer's best race total in a class (the all-time class leaderboard) and its race.
CREATE TABLE class_records (
    class_id    BIGINT NOT NULL,
    racer_id    BIGINT NOT NULL,
    race_id     BIGINT NOT NULL,
    total_centi BIGINT NOT NULL,
    PRIMARY KEY (class_id, racer_id)
);

CREATE INDEX class_records_by_total ON class_records (class_id, total_centi DESC, racer_id);

-- Every object already folded in, so a restart merges only what is new.
CREATE TABLE merged_objects (
    path TEXT PRIMARY KEY NOT NULL
);
