// install.cpp: `cronlock install` and `cronlock uninstall`: the plain-SQL edition
// (sql-edition/, compiled in by cmake/embed_edition.cmake) as the database owner,
// without superuser, for servers that load no custom C extension (Neon, RDS, ...).
//
// Each runs its file as one simple-protocol Query message: PostgreSQL runs such a
// message as one transaction, so a failure leaves the database as it was. The files
// themselves refuse a database with the C extension and a downgrade; the checks here
// come first only to say so plainly and to make a reinstall a true no-op.
#include <libpq-fe.h>

#include <cstdio>

#include "admin_common.hpp"
#include "commands.hpp"
#include "edition_sql.hpp"

namespace cronlock::cli {
namespace {

struct Installed {
	std::optional<std::string> extension; // the C extension's version
	std::optional<std::string> version;   // the edition's version
	std::optional<std::string> schema;    // the schema of the edition's functions
	bool history = false;                 // schema cron_lock exists
};

// What is in the database now, from the catalogs first (where the C extension is
// installed, this role may have no USAGE on schema cron_lock); the installing role
// owns cron_lock.edition().
Result<Installed> inspect(Session &s)
{
	auto r = s.query(
		"SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'cron_lock'), "
		"EXISTS (SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
		" ON n.oid = p.pronamespace WHERE n.nspname = 'cron_lock' AND p.proname = 'edition' "
		" AND p.pronargs = 0), "
		"EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'cron_lock')",
		{});
	if (!r)
		return r.error();
	Installed in;
	in.extension = r->opt(0, 0);
	in.history = r->get(0, 2) == "t";
	if (in.extension || r->get(0, 1) != "t")
		return in;
	auto e = s.query("SELECT version, functions_schema FROM cron_lock.edition()", {});
	if (!e)
		return e.error();
	in.version = e->opt(0, 0);
	in.schema = e->opt(0, 1);
	return in;
}

// A failed statement of the script: "cronlock: MESSAGE (class, SQLSTATE)", then the
// server's detail and hint, which say what to do. 78 permanent, 69 transient (a lock
// not granted within --timeout, a lost connection).
int report_result(PGconn *pg, PGresult *res)
{
	auto field = [&](int code) {
		const char *v = res ? PQresultErrorField(res, code) : nullptr;
		return std::string(v ? v : "");
	};
	std::string sqlstate = field(PG_DIAG_SQLSTATE);
	Failure f;
	f.stage = Stage::query;
	f.sqlstate = sqlstate;
	f.connection_lost = PQstatus(pg) != CONNECTION_OK;
	auto c = classify(f);
	std::string message = field(PG_DIAG_MESSAGE_PRIMARY);
	if (message.empty())
		message = tidy_message(PQerrorMessage(pg));
	// Not report_error: its hints are about running jobs (CREATE EXTENSION, GRANT),
	// the server's own hint below is about this script.
	std::fprintf(stderr, "cronlock: %s (%s%s%s)\n", message.c_str(), std::string(to_string(c.cls)).c_str(),
				 sqlstate.empty() ? "" : ", SQLSTATE ", sqlstate.c_str());
	int status = c.kind == ErrorKind::permanent ? exit_config : exit_unavailable;
	if (auto d = field(PG_DIAG_MESSAGE_DETAIL); !d.empty())
		std::fprintf(stderr, "cronlock: detail: %s\n", d.c_str());
	if (auto h = field(PG_DIAG_MESSAGE_HINT); !h.empty())
		std::fprintf(stderr, "cronlock: hint: %s\n", h.c_str());
	return status;
}

std::string literal(PGconn *pg, const std::string &s)
{
	char *q = PQescapeLiteral(pg, s.data(), s.size());
	std::string out = q ? q : "NULL";
	PQfreemem(q);
	return out;
}

// Runs `prologue` and `script` as one transaction. A lock wait is capped by --timeout
// so that an install never queues behind a running job's transaction while every
// runner's cron_lock_try queues behind the install.
int run_script(Session &s, const Options &o, const std::string &prologue, const char *script)
{
	PGconn *pg = s.connection().raw();
	std::string sql = "SELECT pg_catalog.set_config('client_min_messages', 'warning', true), "
					  "pg_catalog.set_config('lock_timeout', " +
					  literal(pg, std::to_string(o.query_timeout.count()) + "ms") + ", true);\n" +
					  prologue + script;
	PGresult *res = PQexec(pg, sql.c_str());
	int status = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		status = report_result(pg, res);
	PQclear(res);
	while ((res = PQgetResult(pg)) != nullptr)
		PQclear(res);
	if (status)
		s.connection().drop();
	return status;
}

int refuse_extension(const std::string &version)
{
	std::fprintf(stderr,
				 "cronlock: the cron_lock C extension %s is installed in this database: the "
				 "plain-SQL edition is not installed or removed beside it (database_error, "
				 "SQLSTATE 55000)\n"
				 "cronlock: hint: keep the extension (it is the faster one), or move its history "
				 "to the edition first (README, \"Managed PostgreSQL\")\n",
				 version.c_str());
	return exit_config;
}

} // namespace

int cmd_install(const Options &o)
{
	Client client(admin_config(o));
	if (client.config_error())
		return report_error(*client.config_error());
	return with_session(client, [&](Session &s) -> int {
		auto before = inspect(s);
		if (!before)
			return report_error(before.error());
		if (before->extension)
			return refuse_extension(*before->extension);

		PGconn *pg = s.connection().raw();
		std::string prologue;
		std::string schema;
		if (o.schema) {
			auto r = s.query("SELECT pg_catalog.to_regnamespace(pg_catalog.quote_ident($1)) IS NOT NULL",
							 {*o.schema});
			if (!r)
				return report_error(r.error());
			if (r->get(0, 0) != "t") {
				std::fprintf(stderr,
							 "cronlock: schema \"%s\" does not exist (database_error, SQLSTATE 3F000)\n"
							 "cronlock: hint: create it first (CREATE SCHEMA ...), or leave out --schema\n",
							 o.schema->c_str());
				return exit_config;
			}
			char *id = PQescapeIdentifier(pg, o.schema->data(), o.schema->size());
			prologue = "SELECT pg_catalog.set_config('search_path', " + literal(pg, id ? id : "") +
					   ", true);\n";
			PQfreemem(id);
			schema = *o.schema;
		} else {
			auto r = s.query("SELECT pg_catalog.current_schema()", {});
			if (!r)
				return report_error(r.error());
			schema = r->opt(0, 0).value_or("");
		}

		if (before->version && *before->version == edition_version && before->schema == schema) {
			std::printf("cron_lock plain-SQL edition %s is already installed (functions in schema "
						"%s): nothing to do\n",
						edition_version, schema.c_str());
			return std::fflush(stdout) == 0 ? 0 : 1;
		}
		if (int st = run_script(s, o, prologue, edition_install_sql))
			return st;
		if (before->version)
			std::printf("upgraded the cron_lock plain-SQL edition from %s to %s (functions in "
						"schema %s)\n",
						before->version->c_str(), edition_version, schema.c_str());
		else
			std::printf("installed the cron_lock plain-SQL edition %s (functions in schema %s, "
						"data in schema cron_lock%s)\n",
						edition_version, schema.c_str(),
						before->history ? ", history kept from before" : "");
		std::printf("grant cron_lock_user to the roles that run jobs, cron_lock_admin to "
					"administrators\n");
		return std::fflush(stdout) == 0 ? 0 : 1;
	});
}

int cmd_uninstall(const Options &o)
{
	Client client(admin_config(o));
	if (client.config_error())
		return report_error(*client.config_error());
	return with_session(client, [&](Session &s) -> int {
		auto before = inspect(s);
		if (!before)
			return report_error(before.error());
		if (before->extension)
			return refuse_extension(*before->extension);
		if (!before->version && !(o.purge && before->history)) {
			std::printf("the cron_lock plain-SQL edition is not installed in this database: "
						"nothing to do%s\n",
						before->history ? " (its history is kept in schema cron_lock; --purge drops it)"
										: "");
			return std::fflush(stdout) == 0 ? 0 : 1;
		}
		if (int st = run_script(s, o, "", o.purge ? edition_purge_sql : edition_uninstall_sql))
			return st;
		std::string what = before->version ? "removed the cron_lock plain-SQL edition " +
												 *before->version + " (functions in schema " +
												 before->schema.value_or("?") + ")"
										   : "removed the history of the cron_lock plain-SQL edition";
		if (!o.purge) {
			std::printf("%s; its history stays in schema cron_lock (a later install continues "
						"it; --purge drops it)\n",
						what.c_str());
			return std::fflush(stdout) == 0 ? 0 : 1;
		}
		auto roles = s.query("SELECT pg_catalog.string_agg(rolname, ', ' ORDER BY rolname) FROM "
							 "pg_catalog.pg_roles WHERE rolname IN ('cron_lock_user', 'cron_lock_admin')",
							 {});
		std::printf("%s and its history (schema cron_lock)", what.c_str());
		if (roles && roles->opt(0, 0))
			std::printf("; roles %s kept (another database still uses them, or this role may not "
						"drop them)",
						roles->opt(0, 0)->c_str());
		std::printf("\n");
		return std::fflush(stdout) == 0 ? 0 : 1;
	});
}

} // namespace cronlock::cli
