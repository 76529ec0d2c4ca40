// health.cpp: `cronlock health` (is every job on time and succeeding?) and
// `cronlock anomalies`.
#include <cstdio>

#include "commands.hpp"
#include "ops_common.hpp"
#include "table.hpp"

namespace cronlock::cli {

int cmd_health(const Options &o)
{
	const bool j = o.json;
	// Seconds for machines, the server's interval text for people.
	auto span = [&](const std::string &col) {
		return "extract(epoch FROM " + col + ") AS " + col + "_seconds";
	};
	std::string columns =
		j ? "job, state, " + span("every") + ", schedule, timezone, " + span("late_after") +
				", expectation_source, " + ts_column(true, "last_start", "last_start") + ", " +
				ts_column(true, "last_success", "last_success") + ", last_status, " +
				span("last_duration") + ", consecutive_failures, " +
				ts_column(true, "paused_until", "paused_until") + ", expected_instances, stray_instances"
		  : "job, state, coalesce(schedule || coalesce(' (' || timezone || ')', ''), "
			"'every ' || every::text) AS expected, last_success, last_status, "
			"date_trunc('milliseconds', last_duration) AS last_duration, "
			"consecutive_failures AS failures, paused_until, stray_instances";
	std::string sql = "SELECT " + columns + " FROM cron_lock.health" +
					  (o.quiet ? " WHERE state IN ('late', 'failing')" : "") + " ORDER BY job";
	return with_db(o, [&](Session &s) -> int {
		auto r = s.query(sql, {});
		if (!r)
			return report_ops_error(r.error());
		int alarms = 0;
		for (int i = 0; i < r->rows(); ++i)
			alarms += r->get(i, 1) == "late" || r->get(i, 1) == "failing";
		if (o.quiet && alarms == 0)
			return 0; // under cron: nothing to mail
		if (j)
			print_json(stdout, *r);
		else
			print_table(stdout, *r);
		return alarms ? 1 : 0;
	});
}

int cmd_anomalies(const Options &o)
{
	std::string sql = "SELECT kind, job, run_id, instance, " +
					  ts_column(o.json, "detected_at", "detected_at") +
					  ", detail FROM cron_lock.anomalies "
					  "WHERE detected_at >= pg_catalog.clock_timestamp() - $1::interval "
					  "AND ($2::text IS NULL OR job = $2::text) ORDER BY 5, job, run_id";
	return with_db(o, [&](Session &s) -> int {
		auto r = s.query(sql, {interval_text(o.since), o.has_job ? Param(o.job) : std::nullopt});
		if (!r)
			return report_ops_error(r.error());
		if (o.json)
			print_json(stdout, *r);
		else
			print_table(stdout, *r);
		return 0;
	});
}

} // namespace cronlock::cli
