-- The roster: every racer's generated name and avatar seed (see the server's roster module).
-- IF NOT EXISTS: before this migration the server created the table itself.
CREATE TABLE IF NOT EXISTS roster (
    racer_id    INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    avatar_seed INTEGER NOT NULL
);
