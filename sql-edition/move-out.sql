/* sql-edition/move-out.sql: set cron_lock's history aside, in schema
 * cron_lock_moved, before switching between the plain-SQL edition and the C
 * extension (both keep the same tables).  Then remove the old one (DROP
 * EXTENSION cron_lock, or cron_lock_uninstall.sql and DROP SCHEMA cron_lock
 * CASCADE), install the other, and run cron_lock_move_in.sql.  Run it in one
 * transaction (psql -1) by a role that may read cron_lock's tables. */

CREATE SCHEMA cron_lock_moved;
CREATE TABLE cron_lock_moved.job_runs AS TABLE cron_lock.job_runs;
CREATE TABLE cron_lock_moved.leases AS TABLE cron_lock.leases;
CREATE TABLE cron_lock_moved.contention AS TABLE cron_lock.contention;
CREATE TABLE cron_lock_moved.anomaly_log AS TABLE cron_lock.anomaly_log;
CREATE TABLE cron_lock_moved.token_epoch AS TABLE cron_lock.token_epoch;
CREATE TABLE cron_lock_moved.contention_hourly AS TABLE cron_lock.contention_hourly;
CREATE TABLE cron_lock_moved.settings AS TABLE cron_lock.settings;
CREATE TABLE cron_lock_moved.expected_instances AS TABLE cron_lock.expected_instances;
CREATE TABLE cron_lock_moved.jobs AS TABLE cron_lock.jobs;
CREATE TABLE cron_lock_moved.run_id AS SELECT last_value, is_called FROM cron_lock.job_runs_run_id_seq;
