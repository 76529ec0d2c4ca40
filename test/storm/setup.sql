-- What the storm's runners write, guarded by their fencing token.
DROP TABLE IF EXISTS storm_writes, storm_rejects;
CREATE TABLE storm_writes (job text, token bigint, at timestamptz);
CREATE TABLE storm_rejects (job text, token bigint, at timestamptz);

-- A guarded write: accepted only while the token is current; a stale one
-- raises LK001, which is counted instead of aborting the pgbench client.
CREATE OR REPLACE FUNCTION storm_write(j text, t bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM cron_lock_check(j, t);
	INSERT INTO storm_writes VALUES (j, t, clock_timestamp());
EXCEPTION WHEN SQLSTATE 'LK001' THEN
	INSERT INTO storm_rejects VALUES (j, t, clock_timestamp());
END
$$;
