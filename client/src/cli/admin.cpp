// admin.cpp: status, runs, duplicates and release --force.
#include <cstdio>

#include "admin_common.hpp"
#include "commands.hpp"
#include "ops_common.hpp"
#include "table.hpp"

namespace cronlock::cli {

Config admin_config(const Options &o)
{
	Config c;
	c.conninfo = o.conninfo;
	c.connect_timeout = o.connect_timeout;
	c.query_timeout = o.query_timeout;
	return c;
}

int report_error(const Error &e)
{
	std::string where = std::string(to_string(e.cls));
	if (!e.sqlstate.empty())
		where += ", SQLSTATE " + e.sqlstate;
	std::fprintf(stderr, "cronlock: %s (%s)\n", e.message.c_str(), where.c_str());
	if (e.cls == ErrorClass::extension_missing)
		std::fprintf(stderr, "cronlock: hint: is the extension installed in this database? "
							 "(CREATE EXTENSION cron_lock)\n");
	if (e.cls == ErrorClass::permission_denied)
		std::fprintf(stderr, "cronlock: hint: GRANT cron_lock_user (or cron_lock_admin) TO the role\n");
	return e.kind == ErrorKind::permanent ? exit_config : exit_unavailable;
}

namespace {

// Prints the rows of `sql`; `older`, when given, is asked instead on a server whose
// cron_lock lacks a column `sql` names (42703: an older version).
int show(const Options &o, std::string_view sql, const std::vector<Param> &params,
		 std::string_view older = {})
{
	Client client(admin_config(o));
	if (client.config_error())
		return report_error(*client.config_error());
	auto r = with_session(client, [&](Session &s) { return s.query(sql, params); });
	if (!r && !older.empty() && r.error().sqlstate == "42703")
		r = with_session(client, [&](Session &s) { return s.query(older, params); });
	if (!r)
		return report_error(r.error());
	if (o.json)
		print_json(stdout, *r);
	else
		print_table(stdout, *r);
	return std::fflush(stdout) == 0 ? 0 : 1;
}

// A timestamptz column: for --json as ISO 8601 UTC text, formatted by the server so
// that neither DateStyle nor TimeZone (PGDATESTYLE, PGTZ, ALTER ROLE ... SET) changes
// it, and in the statement itself so a transaction pooler cannot lose a SET.
std::string ts(const Options &o, const std::string &col)
{
	if (!o.json)
		return col;
	return "pg_catalog.to_char(" + col + " AT TIME ZONE 'UTC', "
		   "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS " + col;
}

} // namespace

int cmd_status(const Options &o)
{
	// 1.2 added last_success and paused_until (issue 16); 1.1 has neither column.
	const std::string cols = "SELECT job, state, holder, token, run_id, backend_pid, backend_alive, " +
							 ts(o, "acquired_at") + ", " + ts(o, "heartbeat_at") + ", " +
							 ts(o, "expires_at");
	const std::string from = " FROM cron_lock.status ORDER BY job";
	return show(o, cols + ", " + ts(o, "last_success") + ", " + ts(o, "paused_until") + from, {},
				cols + from);
}

int cmd_runs(const Options &o)
{
	return show(o,
				"SELECT run_id, job, instance, token, status, " + ts(o, "started_at") + ", " +
					ts(o, "finished_at") +
					", (extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at) "
					"* 1000)::bigint AS duration_ms, backend_pid, message "
					"FROM cron_lock.job_runs WHERE ($1::text IS NULL OR job = $1::text) "
					"AND ($3::text[] IS NULL OR status = ANY ($3::text[])) "
					"ORDER BY run_id DESC LIMIT $2::bigint",
				{o.has_job ? Param(o.job) : std::nullopt, std::to_string(o.limit),
				 o.statuses.empty() ? std::nullopt : Param(pg_text_array(o.statuses))});
}

int cmd_duplicates(const Options &o)
{
	// 1.2 splits instance_ids by the instances declared for the job (expected_ids,
	// unexpected_ids: a stray runner); 1.1 has neither column.
	const std::string cols = "SELECT job, instances, instance_ids, busy_answers, " +
							 ts(o, "first_seen") + ", " + ts(o, "last_seen");
	const std::string from = " FROM cron_lock_duplicates($1::interval) ORDER BY job";
	return show(o, cols + ", expected_ids, unexpected_ids" + from, {interval_text(o.since)}, cols + from);
}

int cmd_release(const Options &o)
{
	Client client(admin_config(o));
	if (client.config_error())
		return report_error(*client.config_error());
	auto r = client.force_release(o.job, o.token);
	if (!r)
		return report_error(r.error());
	bool released = r.value();
	if (o.json)
		std::printf("{\"job\": %s, \"released\": %s}\n", json_string(o.job).c_str(),
					released ? "true" : "false");
	else if (released)
		std::printf("released the lease of job %s\n", o.job.c_str());
	else
		std::printf("job %s: no lease to release%s\n", o.job.c_str(),
					o.token ? " with that token" : "");
	return released ? 0 : 1;
}

} // namespace cronlock::cli
