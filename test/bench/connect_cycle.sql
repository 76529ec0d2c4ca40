-- The server's part of one `cronlock run`: a new connection (pgbench -C) sends
-- what cronlock sends, in the extended protocol: the preflight, the try, the
-- release.  connect_select1.sql is the same connection with the preflight alone.
SELECT 1;
SELECT acquired, reason, run_id, token, holder, holder_pid, expires_at, took_over
  FROM cron_lock_try('connect-' || :client_id, 'bench-' || :client_id, '60 s', NULL, NULL) \gset
SELECT cron_lock_release('connect-' || :client_id, :token, 'succeeded', NULL);
