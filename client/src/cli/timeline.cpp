// timeline.cpp: `cronlock timeline --html FILE`: one self-contained HTML page of the
// fleet's recent runs, for the operator after an incident.
//
// A lane per instance (its name on the first row), a row per job that instance ran or
// tried; each run is one <rect class="run s-STATUS">, busy answers are ticks (class
// skip, one per row and pixel column), takeovers triangles (class takeover). No script and no external
// resource: a Content-Security-Policy of default-src 'none' makes the browser refuse
// any that slipped in. Every name is user data and goes through html_escape.
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "commands.hpp"
#include "ops_common.hpp"

namespace cronlock::cli {
namespace {

constexpr int label_w = 220, plot_w = 1000, row_h = 18, lane_gap = 8, axis_h = 28;

struct Run {
	std::string job, instance, status, message, run_id, token;
	double start, end;
	bool running, took_over;
};

struct Skips {
	std::string job, instance, reasons, holders;
	double at;
	long count;
};

std::string utc_text(double epoch, bool date = true)
{
	time_t t = static_cast<time_t>(std::floor(epoch));
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[40];
	std::strftime(buf, sizeof buf, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M", &tm);
	return buf;
}

std::string px(double v)
{
	char buf[32];
	std::snprintf(buf, sizeof buf, "%.1f", v);
	return buf;
}

// A CSS class from a status: known words only, so that the class attribute never
// carries data.
std::string status_class(std::string_view s)
{
	for (const char *k : {"running", "succeeded", "failed", "cancelled", "expired"})
		if (s == k)
			return std::string("s-") + k;
	return "s-other";
}

const char *style =
	"body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fff}"
	"h1{font-size:18px;margin:0 0 4px}.meta{color:#555;margin:0 0 8px}"
	".flags{margin:0 0 10px;padding:0;list-style:none}.flags li{display:inline-block;"
	"margin:0 6px 4px 0;padding:2px 8px;border-radius:3px;color:#fff}"
	".flag.late{background:#ef6c00}.flag.failing{background:#c62828}.flag.paused{background:#6d4c41}"
	".wrap{overflow-x:auto}svg{font:11px system-ui,sans-serif}"
	".band{fill:#f4f6f8}.grid{stroke:#d0d4d8;stroke-width:1}.axis{fill:#555}"
	".inst{font-weight:bold;fill:#222}.jobl{fill:#444}.jobl.late,.jobl.failing{fill:#c62828}"
	".jobl.paused{fill:#6d4c41}"
	".run{stroke:#0003;stroke-width:.5}.s-succeeded{fill:#2e7d32}.s-failed{fill:#c62828}"
	".s-running{fill:#1565c0}.s-cancelled{fill:#9e9e9e}.s-expired{fill:#ef6c00}.s-other{fill:#6a1b9a}"
	".skip{fill:#f9a825}.takeover{fill:#000;stroke:#fff;stroke-width:.5}"
	".legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:12px;"
	"height:10px;margin-right:4px;vertical-align:middle}"
	".empty{color:#555;font-style:italic}";

} // namespace

int cmd_timeline(const Options &o)
{
	return with_db(o, [&](Session &s) -> int {
		// The window, on the server's clock.
		auto w = s.query("SELECT extract(epoch FROM t)::float8 - extract(epoch FROM $1::interval)::float8, "
						 "extract(epoch FROM t)::float8 FROM (SELECT pg_catalog.clock_timestamp() AS t) n",
						 {interval_text(o.since)});
		if (!w)
			return report_ops_error(w.error());
		const std::string t0s(w->get(0, 0)), t1s(w->get(0, 1));
		const double t0 = std::stod(t0s), t1 = std::stod(t1s);
		const double span = std::max(t1 - t0, 1.0);

		// Runs that overlap the window, the newest first; a run without finish ends at
		// its lease's expiry (or now).
		auto runs = s.query(
			"SELECT r.run_id, r.job, r.instance, r.token, r.status, "
			"extract(epoch FROM r.started_at)::float8, "
			"extract(epoch FROM coalesce(r.finished_at, least(pg_catalog.to_timestamp($2::float8), "
			"greatest(r.expires_at, r.started_at))))::float8, r.finished_at IS NULL, "
			"coalesce(r.message, ''), EXISTS (SELECT 1 FROM cron_lock.job_runs o "
			"WHERE o.job = r.job AND o.taken_over_by = r.run_id), count(*) OVER () "
			"FROM cron_lock.job_runs r "
			"WHERE r.started_at <= pg_catalog.to_timestamp($2::float8) "
			"AND coalesce(r.finished_at, least(pg_catalog.to_timestamp($2::float8), "
			"greatest(r.expires_at, r.started_at))) "
			">= pg_catalog.to_timestamp($1::float8) "
			"ORDER BY r.started_at DESC, r.run_id DESC LIMIT $3::bigint",
			{t0s, t1s, std::to_string(o.limit)});
		if (!runs)
			return report_ops_error(runs.error());
		// Busy answers, one tick per (instance, job) row and pixel column: the raw rows,
		// and where the server folds them into hourly counters (1.2 with
		// cron_lock.contention_hourly), those too, at their first answer.
		auto folded = s.query("SELECT pg_catalog.to_regclass('cron_lock.contention_hourly') IS NOT NULL", {});
		if (!folded)
			return report_ops_error(folded.error());
		const std::string hourly =
			folded->get(0, 0) == "t"
				? " UNION ALL SELECT job, instance, reason, holder, "
				  "extract(epoch FROM greatest(first_seen, pg_catalog.to_timestamp($1::float8)))::float8, busy "
				  "FROM cron_lock.contention_hourly WHERE last_seen >= pg_catalog.to_timestamp($1::float8) "
				  "AND first_seen <= pg_catalog.to_timestamp($2::float8)"
				: "";
		auto skips = s.query(
			"SELECT job, instance, string_agg(DISTINCT reason, ', '), "
			"coalesce(string_agg(DISTINCT holder, ', '), ''), min(t), sum(n)::bigint FROM ("
			"SELECT job, instance, reason, holder, extract(epoch FROM at)::float8 AS t, 1::bigint AS n "
			"FROM cron_lock.contention WHERE at >= pg_catalog.to_timestamp($1::float8) "
			"AND at <= pg_catalog.to_timestamp($2::float8)" +
				hourly +
				") c GROUP BY job, instance, floor((t - $1::float8) / $3::float8) ORDER BY 5 LIMIT 200000",
			{t0s, t1s, std::to_string(span / plot_w)});
		if (!skips)
			return report_ops_error(skips.error());
		auto flagged = s.query(
			"SELECT job, state, paused_until::text FROM cron_lock.health WHERE state IN ('late', 'failing', 'paused') ORDER BY job",
			{});
		if (!flagged)
			return report_ops_error(flagged.error());

		std::vector<Run> rv;
		long total_runs = 0;
		for (int i = 0; i < runs->rows(); ++i) {
			rv.push_back(Run{std::string(runs->get(i, 1)), std::string(runs->get(i, 2)),
							 std::string(runs->get(i, 4)), std::string(runs->get(i, 8)),
							 std::string(runs->get(i, 0)), std::string(runs->get(i, 3)),
							 std::stod(std::string(runs->get(i, 5))), std::stod(std::string(runs->get(i, 6))),
							 runs->get(i, 7) == "t", runs->get(i, 9) == "t"});
			total_runs = std::stol(std::string(runs->get(i, 10)));
		}
		std::vector<Skips> sv;
		for (int i = 0; i < skips->rows(); ++i)
			sv.push_back(Skips{std::string(skips->get(i, 0)), std::string(skips->get(i, 1)),
							   std::string(skips->get(i, 2)), std::string(skips->get(i, 3)),
							   std::stod(std::string(skips->get(i, 4))), std::stol(std::string(skips->get(i, 5)))});
		std::map<std::string, std::string> job_flag; // job -> late, failing, paused
		for (int i = 0; i < flagged->rows(); ++i)
			job_flag[std::string(flagged->get(i, 0))] = std::string(flagged->get(i, 1));

		// Lanes: instance -> its jobs, both in byte order.
		std::map<std::string, std::set<std::string>> lanes;
		for (const auto &r : rv)
			lanes[r.instance].insert(r.job);
		for (const auto &k : sv)
			lanes[k.instance].insert(k.job);
		std::map<std::pair<std::string, std::string>, int> row_y;
		int y = axis_h;
		std::string lanes_svg;
		for (const auto &[inst, jobs] : lanes) {
			// The instance's name on a row of its own, its jobs' rows below it.
			const int h = static_cast<int>(jobs.size() + 1) * row_h;
			lanes_svg += "<g class=\"lane\" data-instance=\"" + html_escape(inst) + "\">";
			lanes_svg += "<rect class=\"band\" x=\"0\" y=\"" + std::to_string(y - 2) + "\" width=\"" +
						 std::to_string(label_w + plot_w) + "\" height=\"" + std::to_string(h + 4) + "\"/>";
			lanes_svg += "<text class=\"inst\" x=\"4\" y=\"" + std::to_string(y + 12) + "\">" +
						 html_escape(inst) + "</text>";
			int r = 1;
			for (const auto &job : jobs) {
				const int ry = y + r * row_h;
				row_y[{inst, job}] = ry;
				auto f = job_flag.find(job);
				std::string flag = f == job_flag.end() ? "" : f->second;
				// Job names right-aligned next to the plot, under the instance name.
				lanes_svg += "<text class=\"jobl" + (flag.empty() ? "" : " " + flag) + "\" x=\"" +
							 std::to_string(label_w - 6) + "\" y=\"" + std::to_string(ry + 12) +
							 "\" text-anchor=\"end\">" + html_escape(job) +
							 (flag.empty() ? "" : " (" + flag + ")") + "</text>";
				++r;
			}
			lanes_svg += "</g>";
			y += h + lane_gap;
		}
		const int height = y + 4, width = label_w + plot_w + 10;
		auto xpos = [&](double t) {
			return label_w + std::clamp((t - t0) / span, 0.0, 1.0) * plot_w;
		};

		// Time axis: about 8 to 12 ticks at round UTC times.
		std::string axis;
		const double steps[] = {60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
								172800, 604800, 2592000};
		double step = steps[sizeof steps / sizeof *steps - 1];
		for (double st : steps)
			if (span / st <= 12) {
				step = st;
				break;
			}
		for (double t = std::ceil(t0 / step) * step; t <= t1; t += step) {
			std::string xs = px(xpos(t));
			bool midnight = std::fmod(t, 86400) == 0;
			std::string label = step >= 86400 ? utc_text(t).substr(5, 5)
								: midnight    ? utc_text(t).substr(5, 5)
											  : utc_text(t, false);
			axis += "<line class=\"grid\" x1=\"" + xs + "\" x2=\"" + xs + "\" y1=\"" +
					std::to_string(axis_h - 6) + "\" y2=\"" + std::to_string(height) + "\"/>";
			axis += "<text class=\"axis\" x=\"" + xs + "\" y=\"14\" text-anchor=\"middle\">" + label + "</text>";
		}

		std::string marks;
		for (const auto &r : rv) {
			const int ry = row_y[{r.instance, r.job}];
			const double x0 = xpos(r.start), x1 = xpos(r.end);
			std::string title = r.job + " on " + r.instance + ": run " + r.run_id + ", token " +
								r.token + ", " + r.status + "\n" + utc_text(r.start) + " UTC" +
								(r.running ? " (no finish recorded)"
										   : " to " + utc_text(r.end) + " UTC, " +
												 format_duration(Millis(static_cast<long long>(
													 std::llround((r.end - r.start) * 1000))))) +
								(r.message.empty() ? "" : "\n" + r.message) +
								(r.took_over ? "\ntook over a stale lease" : "");
			marks += "<rect class=\"run " + status_class(r.status) + "\" x=\"" + px(x0) + "\" y=\"" +
					 std::to_string(ry + 2) + "\" width=\"" + px(std::max(x1 - x0, 1.5)) +
					 "\" height=\"" + std::to_string(row_h - 6) + "\"><title>" + html_escape(title) +
					 "</title></rect>";
			if (r.took_over)
				marks += "<path class=\"takeover\" d=\"M" + px(x0) + " " + std::to_string(ry + 8) +
						 "l5 -8h-10z\"><title>" +
						 html_escape(r.instance + " took over a stale lease of " + r.job + " at " +
									 utc_text(r.start) + " UTC (run " + r.run_id + ")") +
						 "</title></path>";
		}
		for (const auto &k : sv) {
			const int ry = row_y[{k.instance, k.job}];
			marks += "<rect class=\"skip\" x=\"" + px(xpos(k.at)) + "\" y=\"" + std::to_string(ry + row_h - 4) +
					 "\" width=\"1.5\" height=\"4\"><title>" +
					 html_escape(std::to_string(k.count) + " busy answer" + (k.count == 1 ? "" : "s") +
								 " to " + k.instance + " for " + k.job + " from " + utc_text(k.at) +
								 " UTC (" + k.reasons + (k.holders.empty() ? "" : "; held by " + k.holders) +
								 ")") +
					 "</title></rect>";
		}

		std::string flags;
		for (int i = 0; i < flagged->rows(); ++i) {
			std::string state(flagged->get(i, 1));
			auto until = flagged->opt(i, 2);
			flags += "<li class=\"flag " + std::string(state == "late" ? "late" : state == "failing" ? "failing" : "paused") +
					 "\">" + html_escape(std::string(flagged->get(i, 0))) + ": " + state +
					 (state == "paused" && until
						  ? (*until == "infinity" ? std::string(" until resumed") : " until " + html_escape(*until))
						  : "") + "</li>";
		}

		std::string page =
			"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			"style-src 'unsafe-inline'\">"
			"<title>cron_lock timeline</title><style>" +
			std::string(style) + "</style></head><body>\n<h1>cron_lock timeline</h1>\n<p class=\"meta\">" +
			utc_text(t0) + " to " + utc_text(t1) + " UTC (server clock): " + std::to_string(rv.size()) +
			" run" + (rv.size() == 1 ? "" : "s") +
			(static_cast<long>(rv.size()) < total_runs
				 ? " drawn, the newest of " + std::to_string(total_runs) + " (--limit)"
				 : "") +
			", " + std::to_string(lanes.size()) + " instance" + (lanes.size() == 1 ? "" : "s") +
			". Hover a shape for details.</p>\n" +
			(flags.empty() ? "" : "<ul class=\"flags\">" + flags + "</ul>\n") +
			"<p class=\"legend\"><span><i style=\"background:#2e7d32\"></i>succeeded</span>"
			"<span><i style=\"background:#c62828\"></i>failed</span>"
			"<span><i style=\"background:#1565c0\"></i>running</span>"
			"<span><i style=\"background:#9e9e9e\"></i>cancelled</span>"
			"<span><i style=\"background:#ef6c00\"></i>expired</span>"
			"<span><i style=\"background:#f9a825\"></i>busy skip</span>"
			"<span>&#9660; takeover of a stale lease</span></p>\n" +
			(lanes.empty() ? "<p class=\"empty\">No runs and no busy answers in this window.</p>\n" : "") +
			"<div class=\"wrap\"><svg width=\"" + std::to_string(width) +
			"\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
			std::to_string(height) + "\" role=\"img\" aria-label=\"runs per instance over time\">" +
			lanes_svg + axis + marks + "</svg></div>\n</body></html>\n";
		if (auto err = write_file_atomically(*o.html, page); !err.empty()) {
			std::fprintf(stderr, "cronlock: %s\n", err.c_str());
			return exit_cantcreat;
		}
		return 0;
	});
}

} // namespace cronlock::cli
