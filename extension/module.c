/*-------------------------------------------------------------------------
 * module.c
 *	  The cron_lock backend module.  Nothing to preload, no shared memory:
 *	  every function works in a plain CREATE EXTENSION.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
