// control.cpp: the administrator's switches: `cronlock pause`, `resume` and `expect`
// (cron_lock_pause, cron_lock_resume, cron_lock_expect, cron_lock_expect_instances).
#include <cstdio>

#include "commands.hpp"
#include "ops_common.hpp"

namespace cronlock::cli {

int cmd_pause(const Options &o)
{
	// --until: a duration from now, else a time the server reads.
	std::optional<Millis> for_span = o.until ? parse_duration(*o.until) : std::nullopt;
	Param until_time = o.until && !for_span ? Param(*o.until) : std::nullopt;
	Param until_span = for_span ? Param(interval_text(*for_span)) : std::nullopt;
	std::string sql = "SELECT " + ts_column(o.json, "u.until", "until") +
					  " FROM (SELECT coalesce(pg_catalog.clock_timestamp() + $2::interval, "
					  "$3::timestamptz) AS until) u, cron_lock_pause($1::text, u.until, $4::text) p";
	return with_db(o, [&](Session &s) -> int {
		auto r = s.query(sql, {o.job, until_span, until_time, o.reason ? Param(*o.reason) : std::nullopt});
		if (!r)
			return report_ops_error(r.error(), true);
		auto until = r->opt(0, 0);
		if (o.json)
			std::printf("{\"job\": %s, \"paused\": true, \"until\": %s}\n", json_string(o.job).c_str(),
						until ? json_string(*until).c_str() : "null");
		else
			std::printf("paused job %s %s\n", o.job.c_str(),
						until ? ("until " + *until).c_str() : "until resumed");
		return 0;
	});
}

int cmd_resume(const Options &o)
{
	return with_db(o, [&](Session &s) -> int {
		auto r = s.query("SELECT cron_lock_resume($1::text)", {o.job});
		if (!r)
			return report_ops_error(r.error(), true);
		bool resumed = r->get(0, 0) == "t";
		if (o.json)
			std::printf("{\"job\": %s, \"resumed\": %s}\n", json_string(o.job).c_str(),
						resumed ? "true" : "false");
		else
			std::printf(resumed ? "resumed job %s\n" : "job %s was not paused\n", o.job.c_str());
		return resumed ? 0 : 1;
	});
}

int cmd_expect(const Options &o)
{
	return with_db(o, [&](Session &s) -> int {
		std::string said, json;
		if (o.every || o.has_schedule || o.clear) {
			auto r = s.query("SELECT cron_lock_expect($1::text, $2::interval, $3::text, $4::interval, $5::text)",
							 {o.job, o.every ? Param(interval_text(*o.every)) : std::nullopt,
							  o.has_schedule ? Param(o.schedule) : std::nullopt,
							  o.late_after ? Param(interval_text(*o.late_after)) : std::nullopt,
							  o.timezone ? Param(*o.timezone) : std::nullopt});
			if (!r)
				return report_ops_error(r.error(), true);
			std::string what = o.clear ? "no schedule"
							   : o.every ? "a run every " + format_duration(*o.every)
										 : "runs at '" + o.schedule + "'" +
											   (o.timezone ? " (" + *o.timezone + ")" : "");
			if (o.late_after)
				what += ", late after " + format_duration(*o.late_after);
			said += "job " + o.job + ": expecting " + what + "\n";
			json += "\"every_seconds\": " + (o.every ? std::to_string(o.every->count() / 1000.0) : "null") +
					", \"schedule\": " + (o.has_schedule ? json_string(o.schedule) : "null") +
					", \"timezone\": " + (o.timezone ? json_string(*o.timezone) : "null") +
					", \"late_after_seconds\": " +
					(o.late_after ? std::to_string(o.late_after->count() / 1000.0) : "null") + ", ";
		}
		if (o.instances) {
			std::string err;
			auto names = split_names(*o.instances, err);
			auto r = s.query("SELECT cron_lock_expect_instances($1::text[], $2::text)",
							 {pg_text_array(names), o.all_jobs ? std::nullopt : Param(o.job)});
			if (!r)
				return report_ops_error(r.error(), true);
			std::string list, jlist;
			for (const auto &n : names) {
				list += (list.empty() ? "" : ", ") + n;
				jlist += (jlist.empty() ? "" : ", ") + json_string(n);
			}
			said += (o.all_jobs ? std::string("every job") : "job " + o.job) + ": " +
					(names.empty() ? "no expected instances (any instance may run it)"
								   : "expected instances " + list) +
					"\n";
			json += "\"instances\": [" + jlist + "], ";
		}
		if (o.json)
			std::printf("{\"job\": %s, %s\"done\": true}\n",
						o.all_jobs ? "null" : json_string(o.job).c_str(), json.c_str());
		else
			std::fputs(said.c_str(), stdout);
		return 0;
	});
}

} // namespace cronlock::cli
