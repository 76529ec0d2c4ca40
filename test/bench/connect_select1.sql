-- A new connection (pgbench -C) and cronlock's preflight; see connect_cycle.sql.
SELECT 1;
