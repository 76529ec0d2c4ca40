-- The extension checks its tables in C before a function writes them (no
-- trigger, rule, CHECK... attached: extension/tables.c); the functions
-- written in PL/pgSQL call cron_lock.use_tables() for that.  The edition's
-- functions call cron_lock.refuse_foreign_objects() instead.
CREATE OR REPLACE FUNCTION cron_lock.use_tables(VARIADIC names text[])  -- extension-only
RETURNS void AS 'MODULE_PATHNAME', 'cron_lock_use_tables'  -- extension-only
LANGUAGE C VOLATILE STRICT;  -- extension-only
REVOKE ALL ON FUNCTION cron_lock.use_tables(text[]) FROM PUBLIC;  -- extension-only
