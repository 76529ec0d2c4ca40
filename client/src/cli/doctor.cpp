// doctor.cpp: `cronlock doctor`: can this host use cron_lock, and how well?
//
// Pooler detection: libpq learns a backend pid from the server's BackendKeyData at
// startup; PgBouncer and similar proxies send a made-up one, so it differs from what
// pg_backend_pid() reports. Two statements answered by different backends reveal
// transaction pooling; a TCP port different from the one dialled reveals a proxy.
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "admin_common.hpp"
#include "commands.hpp"
#include "cronlock/log.hpp"

namespace cronlock::cli {
namespace {

double ms_between(SteadyClock::time_point a, SteadyClock::time_point b)
{
	return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string fixed(double v)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.2f", v);
	return buf;
}

struct Report {
	std::vector<std::pair<std::string, std::string>> lines; // key, human text
	std::vector<std::pair<std::string, std::string>> json;  // key, JSON value
	std::vector<std::string> warnings;

	void add(std::string key, std::string text, std::string json_value)
	{
		lines.emplace_back(key, std::move(text));
		json.emplace_back(std::move(key), std::move(json_value));
	}
	void print(bool as_json) const
	{
		if (as_json) {
			std::string s = "{";
			for (const auto &[k, v] : json)
				s += json_string(k) + ": " + v + ", ";
			s += "\"warnings\": [";
			for (std::size_t i = 0; i < warnings.size(); ++i)
				s += (i ? ", " : "") + json_string(warnings[i]);
			std::printf("%s]}\n", s.c_str());
			return;
		}
		for (const auto &[k, v] : lines)
			std::printf("%-16s %s\n", k.c_str(), v.c_str());
		for (const auto &w : warnings)
			std::printf("WARNING: %s\n", w.c_str());
	}
};

std::string jstr(const std::optional<std::string> &v) { return v ? json_string(*v) : "null"; }

} // namespace

int cmd_doctor(const Options &o)
{
	Client client(admin_config(o));
	if (client.config_error())
		return report_error(*client.config_error());
	Report rep;
	const std::string display = connect_settings(client)->display;
	rep.add("conninfo", display, json_string(display));

	return with_session(client, [&](Session &s) -> int {
		auto t0 = SteadyClock::now();
		auto c = s.connect();
		auto t1 = SteadyClock::now();
		if (!c) {
			rep.add("connect", "FAILED after " + fixed(ms_between(t0, t1)) + " ms: " + c.error().message,
					"null");
			rep.print(o.json);
			return report_error(c.error());
		}
		PGconn *pg = s.connection().raw();
		std::string host = PQhost(pg) ? PQhost(pg) : "", port = PQport(pg) ? PQport(pg) : "";
		rep.add("connect", "ok, " + fixed(ms_between(t0, t1)) + " ms (host " + host + " port " + port + ")",
				fixed(ms_between(t0, t1)));
		const int libpq_pid = s.backend_pid();

		double best = 1e9;
		for (int i = 0; i < 3; ++i) {
			auto a = SteadyClock::now();
			auto r = s.query("SELECT 1", {});
			if (!r)
				return report_error(r.error());
			best = std::min(best, ms_between(a, SteadyClock::now()));
		}
		rep.add("round_trip", fixed(best) + " ms (SELECT 1, best of 3)", fixed(best));

		auto info = s.query(
			"SELECT current_setting('server_version'), pg_is_in_recovery(), pg_backend_pid(), "
			"inet_server_port(), current_database(), current_user, e.extversion, n.nspname, "
			"(SELECT bool_and(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_depend d "
			" JOIN pg_proc p ON p.oid = d.objid WHERE d.classid = 'pg_proc'::regclass "
			" AND d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid "
			" AND p.proname IN ('cron_lock_try', 'cron_lock_heartbeat', 'cron_lock_release')) "
			"FROM (SELECT 1) one LEFT JOIN pg_extension e ON e.extname = 'cron_lock' "
			"LEFT JOIN pg_namespace n ON n.oid = e.extnamespace",
			{});
		if (!info)
			return report_error(info.error());
		const auto version = info->opt(0, 0);
		const bool standby = info->get(0, 1) == "t";
		const auto server_pid = info->opt(0, 2);
		const auto server_port = info->opt(0, 3);
		const auto database = info->opt(0, 4), user = info->opt(0, 5);
		const auto ext = info->opt(0, 6), schema = info->opt(0, 7), can_run = info->opt(0, 8);

		rep.add("server_version", version.value_or("?"), jstr(version));
		rep.add("role", standby ? "standby (pg_is_in_recovery() is true)" : "primary",
				standby ? "\"standby\"" : "\"primary\"");
		rep.add("database", database.value_or("?") + " as " + user.value_or("?"), jstr(database));
		// Without the C extension, the plain-SQL edition (sql-edition/) may be there:
		// cron_lock.edition() names it; its functions are in the schema it reports.
		std::optional<std::string> sql_version, sql_schema, sql_can_run;
		if (!ext) {
			auto ed = s.query(
				"SELECT e.version, e.functions_schema, "
				"(SELECT bool_and(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p "
				" WHERE p.pronamespace = e.functions_schema::regnamespace "
				" AND p.proname IN ('cron_lock_try', 'cron_lock_heartbeat', 'cron_lock_release')) "
				"FROM cron_lock.edition() e WHERE pg_catalog.to_regprocedure('cron_lock.edition()') "
				"IS NOT NULL",
				{});
			if (!ed && ed.error().sqlstate != "42883" && ed.error().sqlstate != "3F000" &&
				ed.error().sqlstate != "42501")
				return report_error(ed.error());
			if (ed && ed->rows() == 1) {
				sql_version = ed->opt(0, 0);
				sql_schema = ed->opt(0, 1);
				sql_can_run = ed->opt(0, 2);
			} else if (!ed && ed.error().sqlstate == "42501") {
				sql_version = "(version unknown: no EXECUTE on cron_lock.edition())";
			}
		}
		std::string edition_json =
			ext           ? "{\"edition\": \"extension\", \"version\": " + json_string(*ext) + "}"
			: sql_version ? "{\"edition\": \"sql\", \"version\": " + json_string(*sql_version) + "}"
						  : "null";
		rep.add("extension",
				ext           ? "cron_lock " + *ext + " in schema " + schema.value_or("?")
				: sql_version ? "none (the plain-SQL edition is used instead)"
							  : "NOT INSTALLED in this database (CREATE EXTENSION cron_lock, or "
								"cronlock install for the plain-SQL edition)",
				jstr(ext));
		rep.add("edition",
				ext           ? "C extension " + *ext
				: sql_version ? "plain-SQL edition " + *sql_version + " (functions in schema " +
									sql_schema.value_or("?") + ")"
							  : "none",
				edition_json);
		int status = 0;
		if (standby)
			rep.warnings.push_back("connected to a standby: leases cannot be taken here; list "
								   "every host in --db so libpq finds the primary");
		if (!ext && !sql_version) {
			status = exit_config;
		} else {
			bool ok = (ext ? can_run : sql_can_run) == std::optional<std::string>("t");
			rep.add("privileges",
					ok ? "ok (EXECUTE on cron_lock_try, _heartbeat, _release)"
					   : "MISSING: GRANT cron_lock_user TO " + user.value_or("this role"),
					ok ? "true" : "false");
			if (!ok)
				status = exit_config;
		}

		// Pooler: compare three views of "which backend am I talking to".
		std::vector<std::string> signs;
		if (server_pid && std::to_string(libpq_pid) != *server_pid)
			signs.push_back("libpq was given backend pid " + std::to_string(libpq_pid) +
							" but the server says " + *server_pid);
		auto again = s.query("SELECT pg_backend_pid()", {});
		if (again && server_pid && again->get(0, 0) != *server_pid)
			signs.push_back("two statements ran in different backends (" + *server_pid + ", " +
							std::string(again->get(0, 0)) + "): transaction pooling");
		if (server_port && !port.empty() && *server_port != port)
			signs.push_back("dialled port " + port + " but the server listens on " + *server_port);
		std::string pooler = signs.empty() ? "none detected" : "DETECTED: " + signs.front();
		for (std::size_t i = 1; i < signs.size(); ++i)
			pooler += "; " + signs[i];
		rep.add("pooler", pooler, signs.empty() ? "false" : "true");
		if (!signs.empty())
			rep.warnings.push_back(
				"a connection pooler or proxy sits between cronlock and PostgreSQL. cronlock "
				"works through it (every call is one autocommit statement), but "
				"cron_lock.status.backend_alive and the recorded backend pids describe the "
				"pooler's server connections, not the runners");
		rep.print(o.json);
		return status;
	});
}

} // namespace cronlock::cli
