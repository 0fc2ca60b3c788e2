-- People's racers and how they prove who they are (see the db module's docs, and the server's
-- identity module). Ids of people start at 1,000,000 (alleycat_domain::racer::FIRST_PERSON_ID);
-- below are the generated roster's.
CREATE TABLE people (
    racer_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    -- The name in lower case (Rust's full Unicode lowering), which the search matches.
    search_name   TEXT    NOT NULL,
    avatar_seed   INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
);
-- AUTOINCREMENT continues from the largest of this and the largest id ever used.
INSERT INTO sqlite_sequence (name, seq) VALUES ('people', 999999);

-- A browser that holds a device cookie; only the SHA-256 of the cookie's secret is kept.
CREATE TABLE devices (
    device_id     TEXT    PRIMARY KEY NOT NULL,
    racer_id      INTEGER NOT NULL REFERENCES people (racer_id),
    secret_sha256 TEXT    NOT NULL UNIQUE,
    label         TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    last_used_ms  INTEGER NOT NULL,
    revoked_at_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX devices_by_racer ON devices (racer_id);

-- Passkeys: the WebAuthn credential (webauthn-rs-core's Credential, JSON) by credential id
-- (base64url). `counter` repeats the credential's signature counter, so a login moves it only
-- forwards even when two servers verify the same key at once.
CREATE TABLE passkeys (
    credential_id TEXT    PRIMARY KEY NOT NULL,
    racer_id      INTEGER NOT NULL REFERENCES people (racer_id),
    credential    TEXT    NOT NULL,
    counter       INTEGER NOT NULL,
    label         TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    last_used_ms  INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_by_racer ON passkeys (racer_id);

-- WebAuthn ceremonies between their start and finish: single use (taken by DELETE ...
-- RETURNING), expiring; in the database so that any server may finish what another started.
CREATE TABLE ceremonies (
    ceremony_id   TEXT    PRIMARY KEY NOT NULL,
    kind          TEXT    NOT NULL,
    racer_id      INTEGER,
    state         TEXT    NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Single-use invitations to create a racer (with --registration invite); only the SHA-256 of
-- the code is kept.
CREATE TABLE invites (
    code_sha256   TEXT    PRIMARY KEY NOT NULL,
    created_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER,
    used_by       INTEGER
) WITHOUT ROWID;
