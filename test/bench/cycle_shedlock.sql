-- cycle, ShedLock: lock (the usingDbTime() upsert) then unlock, on a random
-- job.  Statements as built by ShedLock's PostgresSqlServerTimeStatementsSource
-- (shedlock-provider-jdbc-template, getInsertStatement / getUnlockStatement),
-- lockAtMostFor 60s, lockAtLeastFor 0.  ShedLock runs each in its own
-- transaction (TransactionTemplate, REQUIRES_NEW); here each is one autocommit
-- statement, which saves ShedLock the BEGIN/COMMIT round trips JDBC sends.
\set j random(1, :jobs)
INSERT INTO shedlock(name, lock_until, locked_at, locked_by) VALUES('cycle-' || :j, timezone('utc', CURRENT_TIMESTAMP) + cast('60000 milliseconds' as interval), timezone('utc', CURRENT_TIMESTAMP), 'bench-' || :client_id) ON CONFLICT (name) DO UPDATE SET lock_until = timezone('utc', CURRENT_TIMESTAMP) + cast('60000 milliseconds' as interval), locked_at = timezone('utc', CURRENT_TIMESTAMP), locked_by = 'bench-' || :client_id WHERE shedlock.name = 'cycle-' || :j AND shedlock.lock_until <= timezone('utc', CURRENT_TIMESTAMP);
UPDATE shedlock SET lock_until = CASE WHEN locked_at + cast('0 milliseconds' as interval) > timezone('utc', CURRENT_TIMESTAMP) THEN locked_at + cast('0 milliseconds' as interval) ELSE timezone('utc', CURRENT_TIMESTAMP) END WHERE name = 'cycle-' || :j AND locked_by = 'bench-' || :client_id;
