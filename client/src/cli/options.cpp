// options.cpp: the one command line parser of cronlock: getopt_long per subcommand, run
// and the admin and operating subcommands alike. "+" stops at the first non-option
// word, so COMMAND's own options are never taken for ours; "--" works too.
#include "options.hpp"

#include <getopt.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cronlock/cronlock.hpp"

namespace cronlock::cli {
namespace {

enum Id {
	o_db = 256, o_job, o_ttl, o_instance, o_min_gap, o_stagger, o_retries, o_backoff, o_jitter,
	o_connect_timeout, o_preflight_timeout, o_timeout, o_on_busy, o_on_unavailable, o_grace,
	o_log_format, o_json, o_limit, o_since, o_force, o_token, o_schema, o_purge, o_log_to,
	o_max_runtime, o_warn_after_skips, o_alert_after, o_notify, o_every, o_schedule, o_late_after,
	o_metrics_dir, o_all_jobs, o_instances, o_timezone, o_clear, o_until, o_reason, o_textfile,
	o_html, o_quiet = 'q', o_help = 'h',
};
constexpr int o_status = 512; // runs --status

const option all_options[] = {
	{"db", required_argument, nullptr, o_db},
	{"job", required_argument, nullptr, o_job},
	{"ttl", required_argument, nullptr, o_ttl},
	{"instance", required_argument, nullptr, o_instance},
	{"min-gap", required_argument, nullptr, o_min_gap},
	{"stagger", required_argument, nullptr, o_stagger},
	{"retries", required_argument, nullptr, o_retries},
	{"backoff", required_argument, nullptr, o_backoff},
	{"jitter", required_argument, nullptr, o_jitter},
	{"connect-timeout", required_argument, nullptr, o_connect_timeout},
	{"preflight-timeout", required_argument, nullptr, o_preflight_timeout},
	{"timeout", required_argument, nullptr, o_timeout},
	{"on-busy", required_argument, nullptr, o_on_busy},
	{"on-unavailable", required_argument, nullptr, o_on_unavailable},
	{"grace", required_argument, nullptr, o_grace},
	{"log-format", required_argument, nullptr, o_log_format},
	{"json", no_argument, nullptr, o_json},
	{"limit", required_argument, nullptr, o_limit},
	{"since", required_argument, nullptr, o_since},
	{"force", no_argument, nullptr, o_force},
	{"token", required_argument, nullptr, o_token},
	{"schema", required_argument, nullptr, o_schema},
	{"purge", no_argument, nullptr, o_purge},
	{"status", required_argument, nullptr, o_status},
	{"log-to", required_argument, nullptr, o_log_to},
	{"max-runtime", required_argument, nullptr, o_max_runtime},
	{"warn-after-skips", required_argument, nullptr, o_warn_after_skips},
	{"alert-after", required_argument, nullptr, o_alert_after},
	{"notify", required_argument, nullptr, o_notify},
	{"every", required_argument, nullptr, o_every},
	{"schedule", required_argument, nullptr, o_schedule},
	{"late-after", required_argument, nullptr, o_late_after},
	{"metrics-dir", required_argument, nullptr, o_metrics_dir},
	{"all-jobs", no_argument, nullptr, o_all_jobs},
	{"instances", required_argument, nullptr, o_instances},
	{"timezone", required_argument, nullptr, o_timezone},
	{"clear", no_argument, nullptr, o_clear},
	{"until", required_argument, nullptr, o_until},
	{"reason", required_argument, nullptr, o_reason},
	{"textfile", required_argument, nullptr, o_textfile},
	{"html", required_argument, nullptr, o_html},
	{"quiet", no_argument, nullptr, o_quiet},
	{"help", no_argument, nullptr, o_help},
};

struct Command {
	const char *name;
	std::vector<int> ids;
	const char *shorts; // getopt short options after "+:"
};

const Command commands[] = {
	{"run",
	 {o_db, o_job, o_ttl, o_instance, o_min_gap, o_stagger, o_retries, o_backoff, o_jitter,
	  o_connect_timeout, o_preflight_timeout, o_on_busy, o_on_unavailable, o_grace, o_log_format,
	  o_log_to, o_max_runtime, o_warn_after_skips, o_alert_after, o_notify, o_every, o_schedule,
	  o_late_after, o_metrics_dir, o_quiet, o_help},
	 "qh"},
	{"status", {o_db, o_connect_timeout, o_timeout, o_json, o_help}, "h"},
	{"runs", {o_db, o_connect_timeout, o_timeout, o_json, o_job, o_limit, o_status, o_help}, "h"},
	{"duplicates", {o_db, o_connect_timeout, o_timeout, o_json, o_since, o_help}, "h"},
	{"doctor", {o_db, o_connect_timeout, o_timeout, o_json, o_help}, "h"},
	{"release", {o_db, o_connect_timeout, o_timeout, o_json, o_job, o_force, o_token, o_help}, "h"},
	{"install", {o_db, o_connect_timeout, o_timeout, o_schema, o_help}, "h"},
	{"uninstall", {o_db, o_connect_timeout, o_timeout, o_purge, o_help}, "h"},
	{"health", {o_db, o_connect_timeout, o_timeout, o_json, o_quiet, o_help}, "qh"},
	{"anomalies", {o_db, o_connect_timeout, o_timeout, o_json, o_since, o_job, o_help}, "h"},
	{"pause", {o_db, o_connect_timeout, o_timeout, o_json, o_job, o_until, o_reason, o_help}, "h"},
	{"resume", {o_db, o_connect_timeout, o_timeout, o_json, o_job, o_help}, "h"},
	{"expect",
	 {o_db, o_connect_timeout, o_timeout, o_json, o_job, o_all_jobs, o_instances, o_every, o_schedule,
	  o_late_after, o_timezone, o_clear, o_help},
	 "h"},
	{"metrics", {o_db, o_connect_timeout, o_timeout, o_textfile, o_help}, "h"},
	{"timeline", {o_db, o_connect_timeout, o_timeout, o_since, o_html, o_limit, o_help}, "h"},
};

bool parse_int(const char *s, long long lo, long long hi, long long &out)
{
	if (!*s || !std::all_of(s, s + std::strlen(s), [](char c) { return c >= '0' && c <= '9'; }))
		return false;
	errno = 0;
	char *end = nullptr;
	long long v = std::strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	out = v;
	return true;
}

std::string option_name(int id)
{
	for (const auto &o : all_options)
		if (o.val == id)
			return std::string("--") + o.name;
	return "?";
}

} // namespace

std::string check_schedule(const std::string &s)
{
	int fields = 0;
	bool in_field = false;
	for (char c : s) {
		if (c == ' ' || c == '\t') {
			in_field = false;
			continue;
		}
		if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("*,-/", c))
			return std::string("unexpected character '") + c + "'";
		if (!in_field)
			++fields;
		in_field = true;
	}
	if (fields != 5)
		return "a crontab schedule has five fields (minute hour day-of-month month day-of-week), "
			   "e.g. '*/5 * * * 1-5'";
	return "";
}

namespace {

// The usage errors of the operating subcommands (health, anomalies, pause, resume,
// expect, metrics, timeline); `fail` keeps the first.
template <class Fail> void check_operating(const Options &o, Fail &fail)
{
	const std::string &cmd = o.command;
	if ((cmd == "pause" || cmd == "resume") && !o.has_job)
		fail(cmd + " needs --job NAME");
	if ((cmd == "anomalies" || cmd == "timeline") && o.since < Millis{1})
		fail("--since must be positive");
	if (cmd == "pause" && o.reason && o.reason->size() > 1000)
		fail("--reason is limited to 1000 bytes");
	if (cmd == "pause" && o.until && o.until->empty())
		fail("--until needs a time (2026-12-24 06:00+00) or a duration (2h)");
	if (cmd == "timeline" && (!o.html || o.html->empty()))
		fail("timeline needs --html FILE (- for standard output)");
	if (cmd == "metrics" && o.textfile && o.textfile->empty())
		fail("--textfile needs a path");
	if (cmd != "expect")
		return;
	if (o.has_job == o.all_jobs)
		fail("expect needs --job NAME or --all-jobs (one of them)");
	if (o.all_jobs && (o.every || o.has_schedule || o.late_after || o.timezone || o.clear))
		fail("--all-jobs goes with --instances only: a schedule is set per job");
	if (!o.instances && !o.every && !o.has_schedule && !o.clear)
		fail("expect needs --instances LIST, --every DUR, --schedule 'CRON' or --clear");
	if (o.every && o.has_schedule)
		fail("--every and --schedule exclude each other");
	if (o.clear && (o.every || o.has_schedule || o.late_after || o.timezone))
		fail("--clear removes the expectation: give it without --every, --schedule, "
			 "--late-after or --timezone");
	if (o.late_after && !o.every && !o.has_schedule)
		fail("--late-after goes with --every or --schedule");
	if (o.timezone && !o.has_schedule)
		fail("--timezone goes with --schedule");
	if (o.every && *o.every < Millis{1000})
		fail("--every must be at least 1s");
	if (o.late_after && *o.late_after < Millis{1000})
		fail("--late-after must be at least 1s");
	if (o.has_schedule)
		if (auto m = check_schedule(o.schedule); !m.empty())
			fail("invalid --schedule '" + o.schedule + "': " + m);
	if (o.instances) {
		std::string err;
		split_names(*o.instances, err);
		if (!err.empty())
			fail(err);
	}
}

} // namespace

std::vector<std::string> split_names(std::string_view list, std::string &error)
{
	std::vector<std::string> out;
	if (list.empty())
		return out;
	for (std::size_t start = 0;;) {
		std::size_t comma = list.find(',', start);
		std::string name(list.substr(start, comma == std::string_view::npos ? comma : comma - start));
		if (auto m = check_name("--instances", name); !m.empty()) {
			error = m + " (a comma-separated list of instance names)";
			return {};
		}
		if (std::find(out.begin(), out.end(), name) == out.end())
			out.push_back(std::move(name));
		if (comma == std::string_view::npos)
			return out;
		start = comma + 1;
	}
}

Options parse_options(int argc, char *const argv[], const Getenv &getenv)
{
	Options o;
	if (argc < 2) {
		o.error = "no subcommand given";
		return o;
	}
	std::string first = argv[1];
	if (first == "--help" || first == "-h" || first == "help") {
		o.help = true;
		if (first == "help" && argc > 2)
			o.command = argv[2];
		return o;
	}
	if (first == "--version" || first == "-V" || first == "version") {
		o.version = true;
		return o;
	}
	const Command *cmd = nullptr;
	for (const auto &c : commands)
		if (first == c.name)
			cmd = &c;
	if (!cmd) {
		o.error = first.starts_with("-") ? "unknown option '" + first + "' (a subcommand comes first)"
										 : "unknown subcommand '" + first + "'";
		return o;
	}
	o.command = cmd->name;

	std::vector<option> table;
	for (const auto &opt : all_options)
		if (std::find(cmd->ids.begin(), cmd->ids.end(), opt.val) != cmd->ids.end())
			table.push_back(opt);
	table.push_back({nullptr, 0, nullptr, 0});
	std::string shorts = std::string("+:") + cmd->shorts;

	std::optional<std::string> db;
	bool has_instance = false;
	bool has_limit = false;
	auto fail = [&](std::string msg) {
		if (o.error.empty())
			o.error = std::move(msg);
	};
	auto duration = [&](int id, const char *arg) -> Millis {
		auto d = parse_duration(arg);
		if (!d) {
			fail("invalid duration '" + std::string(arg) + "' for " + option_name(id) +
				 " (examples: 250ms, 30s, 5m, 1h, 1d, 1m30s, 30)");
			return Millis{0};
		}
		return *d;
	};
	auto integer = [&](int id, const char *arg, long long lo, long long hi) -> long long {
		long long v = 0;
		if (!parse_int(arg, lo, hi, v))
			fail("invalid value '" + std::string(arg) + "' for " + option_name(id) + " (an integer from " +
				 std::to_string(lo) + " to " + std::to_string(hi) + ")");
		return v;
	};

	opterr = 0;
	optind = 0; // GNU: re-initialise, so parse_options may be called more than once
	const int sub_argc = argc - 1;
	char *const *sub_argv = argv + 1;
	int c;
	while ((c = getopt_long(sub_argc, sub_argv, shorts.c_str(), table.data(), nullptr)) != -1) {
		const char *arg = optarg;
		switch (c) {
		case o_db: db = arg; break;
		case o_job: o.job = arg; o.has_job = true; break;
		case o_ttl: o.ttl = duration(c, arg); break;
		case o_instance: o.instance = arg; has_instance = true; break;
		case o_min_gap: o.min_gap = duration(c, arg); break;
		case o_stagger: o.stagger = duration(c, arg); break;
		case o_retries: o.retries = static_cast<int>(integer(c, arg, 0, 100)); break;
		case o_backoff: o.backoff = duration(c, arg); break;
		case o_jitter: o.jitter = duration(c, arg); break;
		case o_connect_timeout: o.connect_timeout = duration(c, arg); break;
		case o_preflight_timeout:
		case o_timeout: o.query_timeout = duration(c, arg); break;
		case o_on_busy: o.on_busy = static_cast<int>(integer(c, arg, 0, 255)); break;
		case o_on_unavailable: o.on_unavailable = static_cast<int>(integer(c, arg, 0, 255)); break;
		case o_grace: o.grace = duration(c, arg); break;
		case o_log_format:
			if (std::strcmp(arg, "logfmt") == 0)
				o.log_format = LogFormat::logfmt;
			else if (std::strcmp(arg, "json") == 0)
				o.log_format = LogFormat::json;
			else
				fail("invalid value '" + std::string(arg) + "' for --log-format (logfmt or json)");
			break;
		case o_json: o.json = true; break;
		case o_limit:
			o.limit = static_cast<long>(integer(c, arg, 1, 1000000));
			has_limit = true;
			break;
		case o_since: o.since = duration(c, arg); break;
		case o_force: o.force = true; break;
		case o_token: o.token = integer(c, arg, 1, (1LL << 53) - 1); break;
		case o_schema: o.schema = arg; break;
		case o_purge: o.purge = true; break;
		case o_status:
			for (std::string_view rest = arg;;) {
				auto comma = rest.find(',');
				std::string st(rest.substr(0, comma));
				if (st != "running" && st != "succeeded" && st != "failed" && st != "cancelled" &&
					st != "expired")
					fail("invalid status '" + st + "' for --status (running, succeeded, failed, "
						 "cancelled, expired; several separated by commas)");
				o.statuses.push_back(st);
				if (comma == std::string_view::npos)
					break;
				rest.remove_prefix(comma + 1);
			}
			break;
		case o_log_to:
			if (!*arg)
				fail("--log-to needs auto, stderr, syslog or a file name");
			o.log_to = arg;
			break;
		case o_max_runtime: o.max_runtime = duration(c, arg); break;
		case o_warn_after_skips: o.warn_after_skips = static_cast<int>(integer(c, arg, 1, 1000000)); break;
		case o_alert_after: o.alert_after = static_cast<int>(integer(c, arg, 1, 1000000)); break;
		case o_notify:
			if (!*arg)
				fail("--notify needs a command");
			o.notify = arg;
			break;
		case o_every: o.every = duration(c, arg); break;
		case o_schedule:
			if (o.command == "run") // expect checks it after the combinations
				if (auto m = check_schedule(arg); !m.empty())
					fail("invalid --schedule '" + std::string(arg) + "': " + m);
			o.schedule = arg;
			o.has_schedule = true;
			break;
		case o_late_after: o.late_after = duration(c, arg); break;
		case o_metrics_dir:
			if (!*arg)
				fail("--metrics-dir needs a directory");
			o.metrics_dir = arg;
			break;
		case o_all_jobs: o.all_jobs = true; break;
		case o_instances: o.instances = arg; break;
		case o_timezone: o.timezone = arg; break;
		case o_clear: o.clear = true; break;
		case o_until: o.until = arg; break;
		case o_reason: o.reason = arg; break;
		case o_textfile: o.textfile = arg; break;
		case o_html: o.html = arg; break;
		case o_quiet: o.quiet = true; break;
		case o_help: o.help = true; return o;
		case ':': fail("option '" + std::string(sub_argv[optind - 1]) + "' needs a value"); break;
		default: {
			std::string word = optopt ? std::string("-") + static_cast<char>(optopt)
									  : std::string(sub_argv[optind - 1]);
			fail("unknown option '" + word + "' for " + o.command);
		}
		}
	}
	for (int i = optind; i < sub_argc; ++i)
		o.argv.emplace_back(sub_argv[i]);

	o.conninfo = choose_conninfo(db, getenv);
	if (o.command == "timeline" && !has_limit)
		o.limit = 20000; // runs drawn
	if (!has_instance)
		if (const char *v = getenv("CRONLOCK_INSTANCE"))
			o.instance = v;
	if (!o.error.empty())
		return o;

	if (o.connect_timeout < Millis{1} || o.query_timeout < Millis{1})
		fail("timeouts must be positive");
	if (o.command == "run") {
		if (!o.has_job)
			fail("run needs --job NAME");
		else if (auto m = check_name("--job", o.job); !m.empty())
			fail(m);
		if (has_instance || !o.instance.empty())
			if (auto m = check_name("--instance", o.instance); !m.empty())
				fail(m);
		if (o.argv.empty())
			fail("run needs a COMMAND after the options (cronlock run --job NAME -- COMMAND)");
		if (o.ttl < Millis{3000})
			fail("--ttl must be at least 3s");
		if (o.ttl > Millis{31LL * 86400000})
			fail("--ttl must be at most 31d");
		if (o.min_gap && o.min_gap->count() <= 0)
			fail("--min-gap must be positive");
		if (o.grace && *o.grace >= o.ttl)
			fail("--grace must be shorter than --ttl");
		if (o.max_runtime && o.max_runtime->count() <= 0)
			fail("--max-runtime must be positive");
		if (o.every && o.every->count() < 1000)
			fail("--every must be at least 1s");
		if (o.every && !o.schedule.empty())
			fail("--every and --schedule exclude each other: give one expectation");
		if (o.late_after && !o.every && o.schedule.empty())
			fail("--late-after needs --every or --schedule");
		if (o.late_after && o.late_after->count() <= 0)
			fail("--late-after must be positive");
	} else {
		if (!o.argv.empty())
			fail("unexpected argument '" + o.argv.front() + "' for " + o.command);
		if (o.command == "release") {
			if (!o.has_job)
				fail("release needs --job NAME");
			else if (!o.force)
				fail("release frees another runner's lease: add --force to confirm");
		}
		if (o.has_job)
			if (auto m = check_name("--job", o.job); !m.empty())
				fail(m);
		check_operating(o, fail);
		if (o.schema && (o.schema->empty() || o.schema->size() > 63))
			fail("--schema needs a schema name of 1 to 63 bytes");
		else if (o.schema && *o.schema == "cron_lock")
			fail("--schema cron_lock: that schema holds the tables; name another one");
	}
	return o;
}

std::string version_text()
{
	return std::string("cronlock ") + version + "\n";
}

namespace {

// Help of the operating subcommands; "" for the others.
std::string ops_help_text(const std::string &command)
{
	const std::string conn =
		"Connection:\n"
		"      --db CONNINFO            libpq conninfo or URI (default $CRONLOCK_DB,\n"
		"                               else $DATABASE_URL, else libpq's PG* variables)\n"
		"      --connect-timeout DUR    per connection attempt (default 5s)\n"
		"      --timeout DUR            query deadline (2s)\n";
	const std::string json = "      --json                   JSON (timestamps ISO 8601 UTC)\n";
	const std::string help = "  -h, --help                   this text\n";
	const std::string tail =
		"\nDUR: 250ms, 30s, 5m, 1h, 1d, 1m30s, or bare seconds (30).\n"
		"Exit: 0 done, 64 usage (also a value the server refuses), 69 database\n"
		"unreachable, 78 permanent error (cron_lock 1.2 missing, permission).\n";
	if (command == "health")
		return "Usage: cronlock health [-q] [--json] [connection options]\n\n"
			   "Per job: its expectation, last start, last success, last status and duration,\n"
			   "consecutive failures, pause, stray instances, and a state: ok, running, late,\n"
			   "failing, paused, or unknown (no expectation set).\n\n" +
			   conn + json +
			   "  -q, --quiet                  list only the late and failing jobs (nothing when\n"
			   "                               all is well: for a crontab line)\n" +
			   help +
			   "\nExit: 0 no job late or failing, 1 some job late or failing, 64 usage,\n"
			   "69 database unreachable, 78 cron_lock 1.2 missing or permission denied.\n";
	if (command == "anomalies")
		return "Usage: cronlock anomalies [--since DUR] [--job NAME] [--json] [connection options]\n\n"
			   "Recorded and live anomalies (cron_lock.anomalies) of the last DUR (1d), oldest\n"
			   "first: stale takeovers, late releases and heartbeats, overlong runs, --max-runtime\n"
			   "overruns, runs that made others skip many times, stray instances, mismatched\n"
			   "expectations.\n\n" +
			   conn + json +
			   "      --since DUR              how far back (1d)\n"
			   "      --job NAME               one job only\n" +
			   help + tail;
	if (command == "pause" || command == "resume")
		return command == "pause"
				   ? "Usage: cronlock pause --job NAME [--until TIME|DUR] [--reason TEXT] [connection options]\n\n"
					 "Pause a job (role cron_lock_admin): every runner skips it with reason PAUSED\n"
					 "(exit status --on-busy) until TIME, for DUR from now, or until `cronlock\n"
					 "resume`. A run already going is not stopped. TIME is read by the server\n"
					 "(2026-12-24 06:00+00; without an offset in the session's TimeZone).\n\n" +
						 conn + json +
						 "      --job NAME               the job (required)\n"
						 "      --until TIME|DUR         end of the pause (default: until resumed)\n"
						 "      --reason TEXT            why, shown by health and status\n" +
						 help + tail
				   : "Usage: cronlock resume --job NAME [connection options]\n\n"
					 "End a job's pause (role cron_lock_admin).\n\n" +
						 conn + json + "      --job NAME               the job (required)\n" + help +
						 "\nExit: 0 resumed, 1 the job was not paused, 64 usage, 69 database\n"
						 "unreachable, 78 permanent error.\n";
	if (command == "expect")
		return "Usage: cronlock expect --job NAME --every DUR|--schedule 'CRON' [--late-after DUR]\n"
			   "       cronlock expect --job NAME --clear\n"
			   "       cronlock expect --job NAME|--all-jobs --instances ID,ID,...\n\n"
			   "Set what an administrator expects of a job (role cron_lock_admin); it wins over\n"
			   "what runners declare with cronlock run --every/--schedule. A job with an\n"
			   "expectation turns late in cron_lock.health when no run starts in time. Expected\n"
			   "instances: any other instance that runs or tries the job is a stray (an alert);\n"
			   "--instances '' clears the list.\n\n" +
			   conn + json +
			   "      --job NAME               the job\n"
			   "      --all-jobs               the expected instances of every job\n"
			   "      --instances LIST         comma-separated instance names\n"
			   "      --every DUR              a run is expected every DUR\n"
			   "      --schedule 'CRON'        or at the times of a five-field crontab line\n"
			   "      --late-after DUR         late this long after an expected start (default\n"
			   "                               half the period, at most 10m)\n"
			   "      --timezone TZ            time zone of --schedule (default the server's)\n"
			   "      --clear                  remove the expectation\n" +
			   help + tail;
	if (command == "metrics")
		return "Usage: cronlock metrics [--textfile PATH] [connection options]\n\n"
			   "Prometheus text, per job: last success, start and duration, last status, runs by\n"
			   "status (with SELECT on cron_lock.job_runs: cron_lock_admin or a grant), late,\n"
			   "failing, paused, held, current token, stray instances. With\n"
			   "--textfile, written to PATH atomically (a temporary file in the same directory,\n"
			   "then renamed) for node_exporter's textfile collector; PATH should end in .prom.\n"
			   "When the database cannot be read, PATH is left as it was (exit 69 or 78);\n"
			   "when PATH cannot be written, exit 73.\n\n" +
			   conn + "      --textfile PATH          write there instead of standard output\n" + help +
			   tail;
	if (command == "timeline")
		return "Usage: cronlock timeline --html FILE [--since DUR] [--limit N] [connection options]\n\n"
			   "One self-contained HTML page (inline SVG; no script, no network): a lane per\n"
			   "instance, each run a bar coloured by its status, busy skips and takeovers\n"
			   "marked, late, failing and paused jobs flagged (role cron_lock_admin: it reads the\n"
			   "history). FILE - writes to standard output;\n"
			   "FILE is replaced atomically (exit 73 when it cannot be written).\n\n" +
			   conn +
			   "      --html FILE              where to write the page (required)\n"
			   "      --since DUR              how far back (1d)\n"
			   "      --limit N                draw at most N runs, the newest (20000)\n" +
			   help + tail;
	return "";
}

} // namespace

std::string help_text(const std::string &command)
{
	if (std::string ops = ops_help_text(command); !ops.empty())
		return ops;
	const std::string conn =
		"Connection:\n"
		"      --db CONNINFO            libpq conninfo or URI (default $CRONLOCK_DB,\n"
		"                               else $DATABASE_URL, else libpq's PG* variables)\n"
		"      --connect-timeout DUR    per connection attempt (default 5s)\n";
	if (command == "run")
		return "Usage: cronlock run --job NAME [options] [--] COMMAND [ARG...]\n"
			   "\n"
			   "Run COMMAND while holding the lease of job NAME; skip when another runner has it.\n"
			   "\n" +
			   conn +
			   "      --preflight-timeout DUR  deadline of SELECT 1 and every other query (2s)\n"
			   "Lease:\n"
			   "      --job NAME               the job (required)\n"
			   "      --ttl DUR                lease length, at least 3s (60s); renewed every ttl/3\n"
			   "      --instance ID            runner identity ($CRONLOCK_INSTANCE, else host name)\n"
			   "      --min-gap DUR            refuse if the job started less than DUR ago\n"
			   "      --stagger DUR            sleep a per-job offset in [0, DUR) first (0)\n"
			   "      --grace DUR              SIGTERM-to-SIGKILL time on lease loss\n"
			   "                               (default the smaller of 10s and ttl/4)\n"
			   "Retries:\n"
			   "      --retries N              retries after a failed preflight or try (5)\n"
			   "      --backoff DUR            first retry delay, doubled each time (250ms)\n"
			   "      --jitter DUR             random extra delay in [0, DUR) per retry (250ms)\n"
			   "Exit status and logs:\n"
			   "      --on-busy CODE           exit status when busy or too soon (0)\n"
			   "      --on-unavailable CODE    exit status when the database stays unreachable (0)\n"
			   "      --log-format FMT         logfmt (default) or json\n"
			   "      --log-to WHERE           auto (default), stderr, syslog or a FILE; under\n"
			   "                               cron (no terminal, a syslog socket) auto sends\n"
			   "                               log lines to syslog and only alerts to stderr\n"
			   "  -q, --quiet                  only warnings and errors\n"
			   "Alerts and limits:\n"
			   "      --max-runtime DUR        stop COMMAND after DUR (SIGTERM, grace, SIGKILL),\n"
			   "                               release as failed, exit 124\n"
			   "      --warn-after-skips N     alert once this run made others skip N times\n"
			   "      --alert-after N          from the N-th consecutive unavailable skip on this\n"
			   "                               host: an alert and exit 69\n"
			   "      --notify CMD             /bin/sh -c CMD for every alert (CRONLOCK_EVENT*)\n"
			   "Expectation and metrics:\n"
			   "      --every DUR              the job should start every DUR (cron_lock.health)\n"
			   "      --schedule 'CRON'        or on this five-field crontab schedule\n"
			   "      --late-after DUR         late this long after an expected start\n"
			   "                               (default half the period, at most 10m)\n"
			   "      --metrics-dir DIR        write this host's outcome as Prometheus text\n"
			   "  -h, --help                   this text\n"
			   "\n"
			   "DUR: 250ms, 30s, 5m, 1h, 1d, 1m30s, or bare seconds (30).\n"
			   "Exit: COMMAND's status; 128+N if it died of signal N; 126 not executable;\n"
			   "127 not found; --on-busy (also when paused); --on-unavailable; 64 usage;\n"
			   "69 --alert-after reached; 75 lease lost; 78 permanent error (authentication,\n"
			   "missing extension, permission); 124 --max-runtime exceeded.\n";
	if (command == "install" || command == "uninstall") {
		bool in = command == "install";
		return std::string("Usage: cronlock ") +
			   (in ? "install [--schema S]" : "uninstall [--purge]") +
			   " [connection options]\n\n" +
			   (in ? "Install or upgrade the plain-SQL edition of cron_lock (for servers without the\n"
					 "C extension: Neon, RDS, Cloud SQL, ...) as the database owner, in one\n"
					 "transaction. A second run is a no-op. Refused where the C extension is\n"
					 "installed. The functions go into schema S (default: the current schema),\n"
					 "the data into schema cron_lock.\n\n"
				   : "Remove the plain-SQL edition's functions, keeping its history (schema\n"
					 "cron_lock) so that a later install continues the tokens; --purge drops\n"
					 "the history and the roles cron_lock_user/cron_lock_admin too (a role still\n"
					 "used elsewhere is kept). Refused where the C extension is installed.\n\n") +
			   conn + "      --timeout DUR            longest wait for a table lock (2s)\n" +
			   (in ? "      --schema S               schema of the functions (must exist)\n"
				   : "      --purge                  drop the history and the roles too\n") +
			   "  -h, --help                   this text\n"
			   "\n"
			   "Exit: 0 done (or nothing to do), 64 usage, 69 database unreachable,\n"
			   "78 permanent error (C extension installed, permission, downgrade).\n";
	}
	if (command == "status" || command == "runs" || command == "duplicates" ||
		command == "doctor" || command == "release") {
		std::string usage = command == "runs"         ? "runs [--job NAME] [--status S,...] [--limit N]"
							: command == "duplicates" ? "duplicates [--since DUR]"
							: command == "release"    ? "release --job NAME --force [--token N]"
													  : command;
		return "Usage: cronlock " + usage + " [--json] [connection options]\n\n" + conn +
			   "      --timeout DUR            query deadline (2s)\n"
			   "      --json                   JSON instead of a table\n"
			   "  -h, --help                   this text\n";
	}
	return "Usage: cronlock SUBCOMMAND [options]\n"
		   "\n"
		   "Leases with fencing tokens for scheduled jobs (PostgreSQL extension cron_lock).\n"
		   "\n"
		   "Subcommands:\n"
		   "  run --job NAME [options] -- COMMAND [ARG...]\n"
		   "                          run COMMAND under the job's lease (skip when busy)\n"
		   "  status                  current lease of every job\n"
		   "  runs [--job NAME] [--status S,...] [--limit N]\n"
		   "                          recent runs, newest first (default 20)\n"
		   "  health [-q]             is every job on time and succeeding? (exit 1 if not)\n"
		   "  anomalies [--since DUR] recorded and live anomalies (1d)\n"
		   "  pause --job NAME [--until TIME|DUR] / resume --job NAME\n"
		   "                          stop runners from starting a job, and let them again\n"
		   "  expect --job NAME --every DUR|--schedule CRON|--instances ID,...\n"
		   "                          when a job must run, and where (administrators)\n"
		   "  metrics [--textfile PATH]\n"
		   "                          Prometheus text for node_exporter's textfile collector\n"
		   "  timeline --html FILE [--since DUR]\n"
		   "                          a page of the runs per instance (HTML, inline SVG)\n"
		   "  duplicates [--since DUR]\n"
		   "                          jobs that two or more instances competed for (1d)\n"
		   "  doctor                  connectivity, timings, versions, standby, pooler\n"
		   "  release --job NAME --force [--token N]\n"
		   "                          free a job's lease (administrators)\n"
		   "  install [--schema S]    install or upgrade the plain-SQL edition (no superuser)\n"
		   "  uninstall [--purge]     remove it, keeping the history unless --purge\n"
		   "\n"
		   "Options:\n"
		   "  -h, --help              this text (cronlock SUBCOMMAND --help for details)\n"
		   "  -V, --version           print the version\n"
		   "\n"
		   "Exit status of run: COMMAND's own; 128+N for signal N; 126/127 cannot execute;\n"
		   "--on-busy; --on-unavailable; 64 usage; 75 lease lost; 78 permanent error.\n"
		   "Other subcommands: 0 ok, 1 nothing to release (resume: not paused; health:\n"
		   "a job late or failing), 64 usage, 69 database\n"
		   "unreachable, 78 permanent error. See cronlock(1).\n";
}

} // namespace cronlock::cli
