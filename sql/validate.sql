-- Bad input: 22004 for NULLs, 22023 for bad values, and no row changes.
SELECT reason FROM cron_lock_try('validate.held', 'host-1', '60s');
SELECT row_counts() AS before \gset

SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_try(NULL, 'h', '1m')$$),
	($$SELECT cron_lock_try('j', NULL, '1m')$$),
	($$SELECT cron_lock_try('j', 'h', NULL)$$),
	($$SELECT cron_lock_try('', 'h', '1m')$$),
	($$SELECT cron_lock_try('j', '', '1m')$$),
	($$SELECT cron_lock_try(repeat('x', 201), 'h', '1m')$$),
	($$SELECT cron_lock_try('j', repeat('é', 101), '1m')$$),
	($$SELECT cron_lock_try(' j', 'h', '1m')$$),
	($$SELECT cron_lock_try('j ', 'h', '1m')$$),
	($$SELECT cron_lock_try('j', ' h', '1m')$$),
	($$SELECT cron_lock_try(E'j\n', 'h', '1m')$$),
	($$SELECT cron_lock_try('j', E'h\tx', '1m')$$),
	($$SELECT cron_lock_try(E'j\x7f', 'h', '1m')$$),
	-- Unicode: C1 controls, line/paragraph separators, invisible format
	-- characters anywhere; no-break and typographic spaces at the ends.
	($$SELECT cron_lock_try(E'j\u0085', 'h', '1m')$$),
	($$SELECT cron_lock_try(E'j\u2028x', 'h', '1m')$$),
	($$SELECT cron_lock_try('j', E'h\u2029', '1m')$$),
	($$SELECT cron_lock_try(E'pay\u200broll', 'h', '1m')$$),
	($$SELECT cron_lock_try(E'j\u202eab', 'h', '1m')$$),
	($$SELECT cron_lock_try(E'\ufeffj', 'h', '1m')$$),
	($$SELECT cron_lock_try(E'j\u00a0', 'h', '1m')$$),
	($$SELECT cron_lock_try('j', E'\u00a0h', '1m')$$),
	($$SELECT cron_lock_try(E'\u3000j', 'h', '1m')$$),
	($$SELECT cron_lock_try(E'j\u2009', 'h', '1m')$$),
	($$SELECT cron_lock_heartbeat(E'j\u00a0', 1, '1m')$$),
	($$SELECT cron_lock_try('j', 'h', '0')$$),
	($$SELECT cron_lock_try('j', 'h', '-1s')$$),
	($$SELECT cron_lock_try('j', 'h', '31 days 1 second')$$),
	($$SELECT cron_lock_try('j', 'h', '1 mon')$$),
	($$SELECT cron_lock_try('j', 'h', '2147483647 days')$$),
	($$SELECT cron_lock_try('j', 'h', '1m', NULL, '0')$$),
	($$SELECT cron_lock_try('j', 'h', '1m', NULL, '-5m')$$),
	($$SELECT cron_lock_try('j', 'h', '1m', NULL, '1 year')$$),
	($$SELECT cron_lock_heartbeat(NULL, 1, '1m')$$),
	($$SELECT cron_lock_heartbeat('validate.held', NULL, '1m')$$),
	($$SELECT cron_lock_heartbeat('validate.held', 1, NULL)$$),
	($$SELECT cron_lock_heartbeat('validate.held', 1, '0')$$),
	($$SELECT cron_lock_heartbeat('validate.held', 1, '32 days')$$),
	($$SELECT cron_lock_release(NULL, 1)$$),
	($$SELECT cron_lock_release('validate.held', NULL)$$),
	($$SELECT cron_lock_release('validate.held', 1, NULL)$$),
	($$SELECT cron_lock_release('validate.held', 1, 'done')$$),
	($$SELECT cron_lock_release('validate.held', 1, 'running')$$),
	($$SELECT cron_lock_release('validate.held', 1, 'expired')$$),
	($$SELECT cron_lock_release('validate.held', 1, 'failed', repeat('m', 4097))$$),
	($$SELECT cron_lock_check(NULL, 1)$$),
	($$SELECT cron_lock_check('validate.held', NULL)$$),
	($$SELECT cron_lock_check('', 1)$$),
	($$SELECT cron_lock_force_release(NULL)$$),
	($$SELECT cron_lock_force_release(' x')$$),
	($$SELECT cron_lock_prune(NULL)$$),
	($$SELECT cron_lock_prune('-1 day')$$),
	($$SELECT * FROM cron_lock_duplicates(NULL)$$),
	($$SELECT * FROM cron_lock_duplicates('0')$$)
) AS t(stmt);

SELECT row_counts() = :'before' AS nothing_changed;

-- An over-long name is quoted cut at a character boundary (40 bytes would
-- split the 20th 'é').
-- (No context lines: the plain-SQL edition raises it inside a helper.)
\set SHOW_CONTEXT never
SELECT cron_lock_try('x' || repeat('é', 101), 'h', '1m');
\set SHOW_CONTEXT errors

-- Inside a name, non-ASCII letters and a no-break space are fine.
SELECT reason FROM cron_lock_try(E'validate.caf\u00e9\u00a0cr\u00e8me', E'h\u00f4te', '60s');

-- Limits are inclusive: 200 bytes, 31 days, a ttl of one microsecond, a
-- message of 4096 bytes.
SELECT reason FROM cron_lock_try(repeat('v', 200), repeat('i', 200), '31 days');
SELECT reason FROM cron_lock_try('validate.tiny', 'host-1', '1 microsecond');
SELECT cron_lock_release('validate.held', 1, 'failed', repeat('m', 4096)) AS released;
SELECT length(message) FROM cron_lock.job_runs WHERE job = 'validate.held';
