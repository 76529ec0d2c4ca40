/* extension/cron_lock--1.1--1.2.sql: from 1.1 to 1.2.  A fresh install of
 * 1.2 runs cron_lock--1.0.sql, cron_lock--1.0--1.1.sql and then this
 * script, so both paths give the same objects.  The sections marked
 * "schema/..." are those files verbatim (schema/assemble.sh writes this
 * file), shared with the plain-SQL edition. */

\echo Use "ALTER EXTENSION cron_lock UPDATE TO '1.2'" to load this file. \quit

-- ===== issue 16 (ops-server): expectations, pauses, health =====

-- The checks of the C functions, for the PL/pgSQL functions both editions
-- share (extension/helpers.c); the edition has PL/pgSQL functions of the
-- same names.  Not granted to anyone.
CREATE FUNCTION cron_lock.arg_name(name text, what text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_arg_name' LANGUAGE C STABLE;
CREATE FUNCTION cron_lock.require_writable(action text, job text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_require_writable' LANGUAGE C STABLE STRICT;
CREATE FUNCTION cron_lock.refuse_foreign_objects(thorough boolean DEFAULT false) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_refuse_foreign_objects' LANGUAGE C VOLATILE;
CREATE FUNCTION cron_lock.outer_role() RETURNS text
AS 'MODULE_PATHNAME', 'cron_lock_outer_role' LANGUAGE C STABLE;
CREATE FUNCTION cron_lock.require_authority(action text, job text, role text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_require_authority' LANGUAGE C STABLE;
CREATE FUNCTION cron_lock.lock_new_job(job text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_lock_new_job' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION cron_lock.commit_durably() RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_commit_durably' LANGUAGE C VOLATILE;
