-- Team stars read whether a team submitted its annual report from the reporting service's
-- change log.
INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ('reporting', 0);
