// edition_sql.hpp: the plain-SQL edition's files (sql-edition/), compiled in at build
// time by cmake/embed_edition.cmake.
#pragma once

namespace cronlock::cli {

extern const char *const edition_version;       // extension/cron_lock.control's default_version
extern const char *const edition_install_sql;   // cron_lock.sql: install or upgrade, idempotent
extern const char *const edition_uninstall_sql; // cron_lock_uninstall.sql: keeps the history
extern const char *const edition_purge_sql;     // cron_lock_purge.sql: history and roles too

} // namespace cronlock::cli
