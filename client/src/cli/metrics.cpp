// metrics.cpp: `cronlock metrics`: the jobs' health as Prometheus text, for
// node_exporter's textfile collector (written atomically) or any scraper.
//
// The job is the label job_name, not job: a scrape attaches its own `job` label (the
// scrape job), which would rename ours to exported_job.
#include <chrono>
#include <cstdio>
#include <map>

#include "commands.hpp"
#include "ops_common.hpp"

namespace cronlock::cli {
namespace {

// One metric family: its header and samples, written together as the format requires.
struct Family {
	std::string name, help;
	std::string samples;

	void add(const std::string &labels, std::string_view value)
	{
		samples += name + "{" + labels + "} " + std::string(value) + "\n";
	}
};

std::string number(double v)
{
	char buf[40];
	std::snprintf(buf, sizeof buf, "%.3f", v);
	return buf;
}

} // namespace

int cmd_metrics(const Options &o)
{
	return with_db(o, [&](Session &s) -> int {
		auto jobs = s.query(
			"SELECT h.job, extract(epoch FROM h.last_success)::float8, "
			"extract(epoch FROM h.last_start)::float8, extract(epoch FROM h.last_duration)::float8, "
			"h.last_status, h.state, h.consecutive_failures, "
			"coalesce(pg_catalog.cardinality(h.stray_instances), 0), "
			"coalesce(st.state = 'held', false), st.token, "
			"(h.state = 'paused' OR coalesce(h.paused_until > pg_catalog.clock_timestamp(), false)) "
			"FROM cron_lock.health h LEFT JOIN cron_lock.status st ON st.job = h.job ORDER BY h.job",
			{});
		if (!jobs)
			return report_ops_error(jobs.error());
		// Runs by status need the history, which only cron_lock_admin (or a grant) may
		// read; a monitoring role with cron_lock_user gets the rest.
		auto may = s.query("SELECT pg_catalog.has_table_privilege('cron_lock.job_runs', 'SELECT')", {});
		if (!may)
			return report_ops_error(may.error());
		std::optional<Rows> runs;
		if (may->get(0, 0) == "t") {
			auto r = s.query("SELECT job, status, count(*) FROM cron_lock.job_runs "
							 "GROUP BY job, status ORDER BY job, status",
							 {});
			if (!r)
				return report_ops_error(r.error());
			runs.emplace(std::move(*r));
		}

		const char *statuses[] = {"running", "succeeded", "failed", "cancelled", "expired"};
		Family last_success{"cronlock_job_last_success_timestamp_seconds",
							"When the job's last successful run finished (Unix time).", ""};
		Family last_start{"cronlock_job_last_start_timestamp_seconds",
						  "Start time of the job's last run (Unix time).", ""};
		Family last_duration{"cronlock_job_last_duration_seconds",
							 "Duration of the job's last finished run.", ""};
		Family last_status{"cronlock_job_last_status",
						   "1 for the status of the job's last run (running, succeeded, failed, "
						   "cancelled, expired), 0 for the others.",
						   ""};
		Family failures{"cronlock_job_consecutive_failures",
						"Runs of the job that failed in a row, up to the last one.", ""};
		Family late{"cronlock_job_late", "1 when the job is late: no run started in time.", ""};
		Family failing{"cronlock_job_failing", "1 when the job's state is failing.", ""};
		Family paused{"cronlock_job_paused", "1 while the job is paused.", ""};
		Family held{"cronlock_job_held", "1 while a runner holds the job's lease.", ""};
		Family token{"cronlock_job_token", "The job's current fencing token.", ""};
		Family strays{"cronlock_job_stray_instances",
					  "Instances that ran or tried the job without being expected.", ""};
		Family by_status{"cronlock_job_runs",
						 "Runs of the job in the history, by status (pruning lowers it).", ""};

		for (int i = 0; i < jobs->rows(); ++i) {
			const std::string l = "job_name=\"" + prom_label(jobs->get(i, 0)) + "\"";
			auto opt = [&](int col, Family &f) {
				if (!jobs->is_null(i, col))
					f.add(l, jobs->get(i, col));
			};
			opt(1, last_success);
			opt(2, last_start);
			opt(3, last_duration);
			if (!jobs->is_null(i, 4)) {
				std::string_view st = jobs->get(i, 4);
				bool known = false;
				for (const char *k : statuses) {
					known |= st == k;
					last_status.add(l + ",status=\"" + k + "\"", st == k ? "1" : "0");
				}
				if (!known)
					last_status.add(l + ",status=\"" + prom_label(st) + "\"", "1");
			}
			opt(6, failures);
			std::string_view state = jobs->get(i, 5);
			late.add(l, state == "late" ? "1" : "0");
			failing.add(l, state == "failing" ? "1" : "0");
			paused.add(l, jobs->get(i, 10) == "t" ? "1" : "0");
			held.add(l, jobs->get(i, 8) == "t" ? "1" : "0");
			opt(9, token);
			strays.add(l, jobs->get(i, 7));
		}
		for (int i = 0; runs && i < runs->rows(); ++i)
			by_status.add("job_name=\"" + prom_label(runs->get(i, 0)) + "\",status=\"" +
							  prom_label(runs->get(i, 1)) + "\"",
						  runs->get(i, 2));

		std::string text;
		for (const Family *f : {&last_success, &last_start, &last_duration, &last_status, &failures,
								&late, &failing, &paused, &held, &token, &strays, &by_status})
			if (!f->samples.empty())
				text += "# HELP " + f->name + " " + f->help + "\n# TYPE " + f->name + " gauge\n" +
						f->samples;
		const double now = std::chrono::duration<double>(
							   std::chrono::system_clock::now().time_since_epoch())
							   .count();
		text += "# HELP cronlock_metrics_generated_timestamp_seconds When cronlock metrics wrote "
				"this (Unix time): alert when it gets old.\n"
				"# TYPE cronlock_metrics_generated_timestamp_seconds gauge\n"
				"cronlock_metrics_generated_timestamp_seconds " +
				number(now) + "\n";
		if (auto err = write_file_atomically(o.textfile.value_or("-"), text); !err.empty()) {
			std::fprintf(stderr, "cronlock: %s\n", err.c_str());
			return exit_cantcreat;
		}
		return 0;
	});
}

} // namespace cronlock::cli
