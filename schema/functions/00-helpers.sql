-- The extension's checks, for the PL/pgSQL functions both editions share
-- (extension/helpers.c); the edition has PL/pgSQL functions of the same
-- names (sql-edition/src/20-internal.sql).  Not granted to anyone (their
-- REVOKE is in 20-jobs.sql).  refuse_foreign_objects() locks and checks
-- every table of schema/tables/ that exists, as the edition's does.
CREATE OR REPLACE FUNCTION cron_lock.arg_name(name text, what text) RETURNS void  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_arg_name' LANGUAGE C STABLE;  -- extension-only
CREATE OR REPLACE FUNCTION cron_lock.require_writable(action text, job text) RETURNS void  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_require_writable' LANGUAGE C STABLE STRICT;  -- extension-only
CREATE OR REPLACE FUNCTION cron_lock.refuse_foreign_objects(thorough boolean DEFAULT false) RETURNS void  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_refuse_foreign_objects' LANGUAGE C VOLATILE;  -- extension-only
CREATE OR REPLACE FUNCTION cron_lock.outer_role() RETURNS text  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_outer_role' LANGUAGE C STABLE;  -- extension-only
CREATE OR REPLACE FUNCTION cron_lock.require_authority(action text, job text, role text) RETURNS void  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_require_authority' LANGUAGE C STABLE;  -- extension-only
CREATE OR REPLACE FUNCTION cron_lock.lock_new_job(job text) RETURNS void  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_lock_new_job' LANGUAGE C VOLATILE STRICT;  -- extension-only
CREATE OR REPLACE FUNCTION cron_lock.lock_chores(wait boolean) RETURNS boolean  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_lock_chores' LANGUAGE C VOLATILE;  -- extension-only
CREATE OR REPLACE FUNCTION cron_lock.commit_durably() RETURNS void  -- extension-only
AS 'MODULE_PATHNAME', 'cron_lock_commit_durably' LANGUAGE C VOLATILE;  -- extension-only
