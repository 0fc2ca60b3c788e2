-- Race results and class records, kept by the merge (see src/merge/db.rs).

-- One row per race, class and racer: the per-second outputs (a BLOB of little-endian u32
-- hundredths, one per second of the race, 0 where not ridden) and what is derived from them.
CREATE TABLE rides (
    class_id     INTEGER NOT NULL,
    race_id      INTEGER NOT NULL,
    racer_id     INTEGER NOT NULL,
    outputs      BLOB    NOT NULL,
    seconds      INTEGER NOT NULL,
    total_centi  INTEGER NOT NULL,
    best_centi   INTEGER NOT NULL,
    final_second INTEGER NOT NULL,
    final_centi  INTEGER NOT NULL,
    PRIMARY KEY (class_id, race_id, racer_id)
) WITHOUT ROWID;

-- Each racer's best race total in a class (the all-time class leaderboard) and its race.
CREATE TABLE class_records (
    class_id    INTEGER NOT NULL,
    racer_id    INTEGER NOT NULL,
    race_id     INTEGER NOT NULL,
    total_centi INTEGER NOT NULL,
    PRIMARY KEY (class_id, racer_id)
) WITHOUT ROWID;

CREATE INDEX class_records_by_total ON class_records (class_id, total_centi DESC, racer_id);

-- Every object already folded in, so a restart merges only what is new.
CREATE TABLE merged_objects (
    path TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;
