-- Scorecard results (see `scorecards/`): one row per entity and scorecard each time its result
-- changes, so that the newest row is the current result and the older ones its history. An
-- evaluation that finds the same result as the newest row writes nothing. `seq` counts an entity's
-- results per scorecard from 1; two replicas recording the same change race for the same `seq`
-- and the second insert does nothing. Timestamps are milliseconds since the Unix epoch.
CREATE TABLE scorecard_results (
    entity        TEXT NOT NULL,              -- the entity's normalised reference
    scorecard     TEXT NOT NULL,              -- the Scorecard document's name
    seq           BIGINT NOT NULL,
    status        TEXT NOT NULL,              -- scored | not-applicable (the filter leaves it out)
    level         TEXT,                       -- the highest level reached; NULL for none
    checks        TEXT NOT NULL,              -- JSON array: name, level, passed, error, fix
    revision      TEXT NOT NULL,              -- the platform configuration revision that scored it
    evaluated_at  BIGINT NOT NULL,
    PRIMARY KEY (entity, scorecard, seq)
);
