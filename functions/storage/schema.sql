-- Storage 2.0 schema; applied idempotently at start (and again after an outage).
-- vote_events remembers event ids so each is counted once (the primary key does it);
-- vote_counts holds one counter row per option, so reading counts is O(options).
CREATE TABLE IF NOT EXISTS vote_events (
    event_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    received_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    KEY vote_events_received_at (received_at)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS vote_counts (
    option_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    votes BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB;
