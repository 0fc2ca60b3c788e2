-- Keys every server of a deployment shares (the token secret, the generated API key), by name.
-- The first server to start inserts them (INSERT ... ON CONFLICT DO NOTHING); the others read
-- them back.
CREATE TABLE shared_keys (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
