/* extension/cron_lock--1.0--1.1.sql: from 1.0 to 1.1.  A fresh install of
 * 1.1 runs cron_lock--1.0.sql and then this script, so both paths give the
 * same objects (test/server/upgrade_harness.sh checks it). */

\echo Use "ALTER EXTENSION cron_lock UPDATE TO '1.1'" to load this file. \quit
