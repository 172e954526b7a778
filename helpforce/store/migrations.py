"""Numbered schema migrations. Each runs in one transaction together with the bump of
``PRAGMA user_version``; a database whose version is newer than the last migration here is
refused (it was written by newer code)."""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the desk
    [
        """
        CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            customer_handle TEXT NOT NULL DEFAULT '',
            conversation TEXT NOT NULL,
            thread TEXT,
            visibility TEXT NOT NULL,
            root_message TEXT NOT NULL,
            state TEXT NOT NULL,
            claimed_by TEXT,
            claimed_at REAL,
            first_answer_at REAL,
            last_answer_by TEXT,
            dm_conversation TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            resolved_at REAL
        )
        """,
        "CREATE INDEX questions_customer ON questions(platform, customer_id)",
        "CREATE INDEX questions_state ON questions(state)",
        "CREATE INDEX questions_claimer ON questions(claimed_by) WHERE claimed_by IS NOT NULL",
        # every message of a conversation, in and out; outgoing ones get their platform id
        # once the outbox has sent them
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            question_id INTEGER REFERENCES questions(id),
            platform TEXT NOT NULL,
            platform_message_id TEXT,
            conversation TEXT NOT NULL,
            thread TEXT,
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            visibility TEXT NOT NULL,
            kind TEXT NOT NULL,
            author_id TEXT,
            staff_id TEXT,
            text TEXT NOT NULL,
            reply_to TEXT,
            at REAL NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX messages_platform_id ON messages(platform, platform_message_id)",
        "CREATE INDEX messages_question ON messages(question_id)",
        # the idempotency ledger: every platform event is handled once
        """
        CREATE TABLE inbound (
            platform TEXT NOT NULL,
            message_id TEXT NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (platform, message_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            question_id INTEGER,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT,
            platform TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX events_question ON events(question_id, id)",
        # the event log is append-only
        """
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END
        """,
        """
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END
        """,
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            platform TEXT NOT NULL,
            message_row INTEGER REFERENCES messages(id),
            question_id INTEGER,
            payload TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain', 'dropped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at REAL NOT NULL,
            created_at REAL NOT NULL,
            sent_at REAL,
            platform_message_id TEXT,
            last_error TEXT
        )
        """,
        "CREATE INDEX outbox_due ON outbox(platform, state, due_at)",
        """
        CREATE TABLE cursors (
            platform TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (platform, name)
        ) WITHOUT ROWID
        """,
    ],
    # 2: what a policy stopped, so staff can send the compliant version (or a lead the
    # original) with one action
    [
        """
        CREATE TABLE pending (
            question_id INTEGER NOT NULL REFERENCES questions(id),
            staff_id TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('answer', 'dm')),
            suggestion TEXT,
            original TEXT NOT NULL,
            private INTEGER NOT NULL,
            rules TEXT NOT NULL,
            overridable INTEGER NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (question_id, staff_id)
        )
        """,
    ],
    # 3: fewer index writes per message: an outbox key is derived from its row id, so it needs
    # no unique index of its own; outgoing messages have no platform id until they are sent,
    # so only messages with one are indexed by it
    [
        """
        CREATE TABLE outbox_v3 (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            platform TEXT NOT NULL,
            message_row INTEGER REFERENCES messages(id),
            question_id INTEGER,
            payload TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain', 'dropped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at REAL NOT NULL,
            created_at REAL NOT NULL,
            sent_at REAL,
            platform_message_id TEXT,
            last_error TEXT
        )
        """,
        "INSERT INTO outbox_v3 SELECT id, key, platform, message_row, question_id, payload, "
        "state, attempts, due_at, created_at, sent_at, platform_message_id, last_error "
        "FROM outbox",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v3 RENAME TO outbox",
        "CREATE INDEX outbox_due ON outbox(platform, state, due_at)",
        "DROP INDEX messages_platform_id",
        "CREATE UNIQUE INDEX messages_platform_id ON messages(platform, platform_message_id) "
        "WHERE platform_message_id IS NOT NULL",
    ],
    # 4: routing. What a question is about (tags, language, the route that offers it), every
    # deadline as a due time (offer waves, claim leases, SLA targets: a restart resumes them),
    # and the status staff set for themselves
    [
        "ALTER TABLE questions ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE questions ADD COLUMN language TEXT",
        "ALTER TABLE questions ADD COLUMN route TEXT",
        """
        CREATE TABLE timers (
            question_id INTEGER NOT NULL REFERENCES questions(id),
            kind TEXT NOT NULL,
            due_at REAL NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (question_id, kind)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX timers_due ON timers(due_at)",
        """
        CREATE TABLE presence (
            staff_id TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('on', 'away', 'off', 'auto')),
            at REAL NOT NULL
        ) WITHOUT ROWID
        """,
    ],
    # 5: the outbox finds the row that sent one of our messages (to edit an offer once it is
    # claimed, to reply to the part before) by message_row; without an index that is a scan
    # of the whole outbox per edit, quadratic over a long day
    [
        "CREATE INDEX outbox_message_row ON outbox(message_row) WHERE message_row IS NOT NULL",
    ],
    # 6: moving a public question to a private chat by link (Telegram's t.me/<bot>?start=...,
    # where a bot cannot write first): the link's unguessable payload, the private messages
    # held until the customer opens the chat ('held' outbox rows), and who is known to be
    # reachable privately (staff who never started the bot cannot be notified)
    [
        "ALTER TABLE questions ADD COLUMN dm_link TEXT",
        """
        CREATE TABLE deep_links (
            token TEXT PRIMARY KEY,
            question_id INTEGER NOT NULL REFERENCES questions(id),
            platform TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            opened_at REAL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX deep_links_question ON deep_links(question_id)",
        """
        CREATE TABLE dm_reach (
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            reachable INTEGER NOT NULL,
            reason TEXT,
            at REAL NOT NULL,
            PRIMARY KEY (platform, user_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE outbox_v6 (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            platform TEXT NOT NULL,
            message_row INTEGER REFERENCES messages(id),
            question_id INTEGER,
            payload TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN
                ('pending', 'sending', 'sent', 'failed', 'uncertain', 'dropped', 'held')),
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at REAL NOT NULL,
            created_at REAL NOT NULL,
            sent_at REAL,
            platform_message_id TEXT,
            last_error TEXT
        )
        """,
        "INSERT INTO outbox_v6 SELECT id, key, platform, message_row, question_id, payload, "
        "state, attempts, due_at, created_at, sent_at, platform_message_id, last_error "
        "FROM outbox",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v6 RENAME TO outbox",
        "CREATE INDEX outbox_due ON outbox(platform, state, due_at)",
        "CREATE INDEX outbox_message_row ON outbox(message_row) WHERE message_row IS NOT NULL",
        "CREATE INDEX outbox_held ON outbox(question_id) WHERE state = 'held'",
    ],
    # 7: the audit trail. Events are hash-chained (helpforce/store/chain.py: each carries the
    # hash of the one before, a seal over the part that names a customer or holds a text,
    # and the salt of that seal); the head row names the last event, so events deleted from
    # the end are noticed too. The store's migration hook chains the events already here
    # (before the triggers of migration 8 exist). A purge blanks the customer's texts and
    # handles and marks the question purged.
    [
        "DROP TRIGGER events_no_update",
        "ALTER TABLE events ADD COLUMN hash TEXT",
        "ALTER TABLE events ADD COLUMN seal TEXT",
        "ALTER TABLE events ADD COLUMN salt TEXT",
        """
        CREATE TABLE audit_head (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            event_id INTEGER NOT NULL,
            hash TEXT NOT NULL
        )
        """,
        "ALTER TABLE questions ADD COLUMN purged_at REAL",
        "CREATE INDEX questions_resolved ON questions(resolved_at) WHERE state = 'resolved'",
    ],
    # 8: the log stays append-only: the one change allowed is a purge's (the sealed part and
    # its salt removed; ids, times, kinds, hashes and seals untouched); an event must come
    # with its hash; each insert moves the head
    [
        """
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        WHEN NOT (OLD.salt IS NOT NULL AND NEW.salt IS NULL AND NEW.id = OLD.id
                  AND NEW.question_id IS OLD.question_id AND NEW.at = OLD.at
                  AND NEW.kind = OLD.kind AND NEW.platform IS OLD.platform
                  AND NEW.hash = OLD.hash AND NEW.seal IS OLD.seal)
        BEGIN SELECT RAISE(ABORT, 'events are append-only (a purge only removes sealed parts)');
        END
        """,
        """
        CREATE TRIGGER events_chained BEFORE INSERT ON events WHEN NEW.hash IS NULL
        BEGIN SELECT RAISE(ABORT, 'events are hash-chained: insert them through the store'); END
        """,
        """
        CREATE TRIGGER events_head AFTER INSERT ON events
        BEGIN INSERT OR REPLACE INTO audit_head (one, event_id, hash)
              VALUES (1, NEW.id, NEW.hash); END
        """,
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
