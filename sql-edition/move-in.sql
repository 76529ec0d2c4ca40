/* sql-edition/move-in.sql: copy the history that cron_lock_move_out.sql set
 * aside into the freshly installed edition or extension, so that run ids and
 * tokens continue where they stopped (a job's next token follows its lease
 * row), then drop cron_lock_moved.  Run it in one transaction (psql -1) by a
 * role that may write cron_lock's tables (a superuser for the extension). */

DELETE FROM cron_lock.token_epoch;
INSERT INTO cron_lock.token_epoch SELECT * FROM cron_lock_moved.token_epoch;
INSERT INTO cron_lock.job_runs SELECT * FROM cron_lock_moved.job_runs;
INSERT INTO cron_lock.leases SELECT * FROM cron_lock_moved.leases;
INSERT INTO cron_lock.contention SELECT * FROM cron_lock_moved.contention;
INSERT INTO cron_lock.anomaly_log SELECT * FROM cron_lock_moved.anomaly_log;
INSERT INTO cron_lock.contention_hourly SELECT * FROM cron_lock_moved.contention_hourly;
INSERT INTO cron_lock.settings SELECT * FROM cron_lock_moved.settings;
INSERT INTO cron_lock.expected_instances SELECT * FROM cron_lock_moved.expected_instances;
INSERT INTO cron_lock.jobs SELECT * FROM cron_lock_moved.jobs;
SELECT pg_catalog.setval('cron_lock.job_runs_run_id_seq', last_value, is_called) FROM cron_lock_moved.run_id;
DROP SCHEMA cron_lock_moved CASCADE;
