-- Expiring environments: when an ephemeral environment (one whose configuration has an expiry) is
-- destroyed by the reaper, and when its team was reminded. Both are milliseconds since the Unix
-- epoch; `expires_at` is NULL for environments that stay, `reminded_at` NULL until the reminder
-- has been sent for the current expiry (an extension clears it, so the new expiry is announced).
ALTER TABLE environments ADD COLUMN expires_at BIGINT;
ALTER TABLE environments ADD COLUMN reminded_at BIGINT;
CREATE INDEX environments_expires_at ON environments (expires_at);
