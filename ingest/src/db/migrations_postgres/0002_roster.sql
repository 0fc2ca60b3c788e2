-- The roster: every racer's generated name and avatar seed (see the server's roster module).
CREATE TABLE roster (
    racer_id    BIGINT PRIMARY KEY,
    name        TEXT   NOT NULL,
    avatar_seed BIGINT NOT NULL
);
