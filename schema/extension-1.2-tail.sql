
-- Kept by pg_dump with the other tables.
SELECT pg_catalog.pg_extension_config_dump('cron_lock.jobs', '');
