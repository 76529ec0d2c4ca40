// ops_options.cpp: getopt_long for the operating subcommands, with the same
// conventions as options.cpp (usage errors exit 64, the connection options of every
// admin subcommand, `--help` per subcommand).
#include "ops_options.hpp"

#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <cstring>

#include "commands.hpp"
#include "cronlock/cronlock.hpp"

namespace cronlock::cli {
namespace {

enum Id {
	o_db = 256, o_connect_timeout, o_timeout, o_json, o_job, o_since, o_all_jobs, o_instances,
	o_every, o_schedule, o_late_after, o_timezone, o_clear, o_until, o_reason, o_textfile,
	o_html, o_limit, o_quiet = 'q', o_help = 'h',
};

const option all_options[] = {
	{"db", required_argument, nullptr, o_db},
	{"connect-timeout", required_argument, nullptr, o_connect_timeout},
	{"timeout", required_argument, nullptr, o_timeout},
	{"json", no_argument, nullptr, o_json},
	{"job", required_argument, nullptr, o_job},
	{"since", required_argument, nullptr, o_since},
	{"all-jobs", no_argument, nullptr, o_all_jobs},
	{"instances", required_argument, nullptr, o_instances},
	{"every", required_argument, nullptr, o_every},
	{"schedule", required_argument, nullptr, o_schedule},
	{"late-after", required_argument, nullptr, o_late_after},
	{"timezone", required_argument, nullptr, o_timezone},
	{"clear", no_argument, nullptr, o_clear},
	{"until", required_argument, nullptr, o_until},
	{"reason", required_argument, nullptr, o_reason},
	{"textfile", required_argument, nullptr, o_textfile},
	{"html", required_argument, nullptr, o_html},
	{"limit", required_argument, nullptr, o_limit},
	{"quiet", no_argument, nullptr, o_quiet},
	{"help", no_argument, nullptr, o_help},
};

struct Command {
	const char *name;
	std::vector<int> ids; // besides --db, --connect-timeout, --timeout, --help
	const char *shorts;
	int (*run)(const OpsOptions &);
};

const Command commands[] = {
	{"health", {o_json, o_quiet}, "qh", cmd_health},
	{"anomalies", {o_json, o_since, o_job}, "h", cmd_anomalies},
	{"pause", {o_json, o_job, o_until, o_reason}, "h", cmd_pause},
	{"resume", {o_json, o_job}, "h", cmd_resume},
	{"expect",
	 {o_json, o_job, o_all_jobs, o_instances, o_every, o_schedule, o_late_after, o_timezone, o_clear},
	 "h",
	 cmd_expect},
	{"metrics", {o_textfile}, "h", cmd_metrics},
	{"timeline", {o_since, o_html, o_limit}, "h", cmd_timeline},
};

const Command *find_command(std::string_view name)
{
	for (const auto &c : commands)
		if (name == c.name)
			return &c;
	return nullptr;
}

std::string option_name(int id)
{
	for (const auto &o : all_options)
		if (o.val == id)
			return std::string("--") + o.name;
	return "?";
}

} // namespace

bool is_ops_command(std::string_view name)
{
	return find_command(name) != nullptr;
}

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

OpsOptions parse_ops_options(int argc, char *const argv[], const Getenv &getenv)
{
	OpsOptions x;
	Options &o = x.common;
	const Command *cmd = argc > 1 ? find_command(argv[1]) : nullptr;
	if (!cmd) {
		o.error = "not an operating subcommand";
		return x;
	}
	o.command = cmd->name;

	std::vector<option> table;
	for (const auto &opt : all_options)
		if (opt.val == o_db || opt.val == o_connect_timeout || opt.val == o_timeout ||
			opt.val == o_help || std::find(cmd->ids.begin(), cmd->ids.end(), opt.val) != cmd->ids.end())
			table.push_back(opt);
	table.push_back({nullptr, 0, nullptr, 0});
	std::string shorts = std::string("+:") + cmd->shorts;

	std::optional<std::string> db;
	auto fail = [&](std::string msg) {
		if (o.error.empty())
			o.error = std::move(msg);
	};
	auto duration = [&](int id, const char *arg) -> Millis {
		auto d = parse_duration(arg);
		if (!d)
			fail("invalid duration '" + std::string(arg) + "' for " + option_name(id) +
				 " (examples: 250ms, 30s, 5m, 1h, 1d, 1m30s, 30)");
		return d.value_or(Millis{0});
	};

	opterr = 0;
	optind = 0;
	const int sub_argc = argc - 1;
	char *const *sub_argv = argv + 1;
	int c;
	while ((c = getopt_long(sub_argc, sub_argv, shorts.c_str(), table.data(), nullptr)) != -1) {
		const char *arg = optarg;
		switch (c) {
		case o_db: db = arg; break;
		case o_connect_timeout: o.connect_timeout = duration(c, arg); break;
		case o_timeout: o.query_timeout = duration(c, arg); break;
		case o_json: o.json = true; break;
		case o_job: o.job = arg; o.has_job = true; break;
		case o_since: o.since = duration(c, arg); break;
		case o_all_jobs: x.all_jobs = true; break;
		case o_instances: x.instances = arg; break;
		case o_every: x.every = duration(c, arg); break;
		case o_schedule: x.schedule = arg; break;
		case o_late_after: x.late_after = duration(c, arg); break;
		case o_timezone: x.timezone = arg; break;
		case o_clear: x.clear = true; break;
		case o_until: x.until = arg; break;
		case o_reason: x.reason = arg; break;
		case o_textfile: x.textfile = arg; break;
		case o_html: x.html = arg; break;
		case o_limit: {
			char *end = nullptr;
			errno = 0;
			long v = std::strtol(arg, &end, 10);
			if (errno || !*arg || *end || v < 1 || v > 1000000 || !std::isdigit(static_cast<unsigned char>(*arg)))
				fail("invalid value '" + std::string(arg) + "' for --limit (an integer from 1 to 1000000)");
			else
				x.limit = v;
			break;
		}
		case o_quiet: x.quiet = true; break;
		case o_help: o.help = true; return x;
		case ':': fail("option '" + std::string(sub_argv[optind - 1]) + "' needs a value"); break;
		default: {
			std::string word = optopt ? std::string("-") + static_cast<char>(optopt)
									  : std::string(sub_argv[optind - 1]);
			fail("unknown option '" + word + "' for " + o.command);
		}
		}
	}
	if (optind < sub_argc)
		fail("unexpected argument '" + std::string(sub_argv[optind]) + "' for " + o.command);
	o.conninfo = choose_conninfo(db, getenv);
	if (!o.error.empty())
		return x;

	if (o.connect_timeout < Millis{1} || o.query_timeout < Millis{1})
		fail("timeouts must be positive");
	if (o.has_job)
		if (auto m = check_name("--job", o.job); !m.empty())
			fail(m);
	const std::string &cmdname = o.command;
	if ((cmdname == "pause" || cmdname == "resume") && !o.has_job)
		fail(cmdname + " needs --job NAME");
	if (cmdname == "anomalies" || cmdname == "timeline")
		if (o.since < Millis{1})
			fail("--since must be positive");
	if (cmdname == "pause" && x.reason && x.reason->size() > 1000)
		fail("--reason is limited to 1000 bytes");
	if (cmdname == "pause" && x.until && x.until->empty())
		fail("--until needs a time (2026-12-24 06:00+00) or a duration (2h)");
	if (cmdname == "timeline" && (!x.html || x.html->empty()))
		fail("timeline needs --html FILE (- for standard output)");
	if (cmdname == "metrics" && x.textfile && x.textfile->empty())
		fail("--textfile needs a path");
	if (cmdname == "expect") {
		if (o.has_job == x.all_jobs)
			fail("expect needs --job NAME or --all-jobs (one of them)");
		if (x.all_jobs && (x.every || x.schedule || x.late_after || x.timezone || x.clear))
			fail("--all-jobs goes with --instances only: a schedule is set per job");
		if (!x.instances && !x.every && !x.schedule && !x.clear)
			fail("expect needs --instances LIST, --every DUR, --schedule 'CRON' or --clear");
		if (x.every && x.schedule)
			fail("--every and --schedule exclude each other");
		if (x.clear && (x.every || x.schedule || x.late_after || x.timezone))
			fail("--clear removes the expectation: give it without --every, --schedule, "
				 "--late-after or --timezone");
		if (x.late_after && !x.every && !x.schedule)
			fail("--late-after goes with --every or --schedule");
		if (x.timezone && !x.schedule)
			fail("--timezone goes with --schedule");
		if (x.every && *x.every < Millis{1000})
			fail("--every must be at least 1s");
		if (x.late_after && *x.late_after < Millis{1000})
			fail("--late-after must be at least 1s");
		if (x.schedule)
			if (auto m = check_schedule(*x.schedule); !m.empty())
				fail("invalid --schedule '" + *x.schedule + "': " + m);
		if (x.instances) {
			std::string err;
			split_names(*x.instances, err);
			if (!err.empty())
				fail(err);
		}
	}
	return x;
}

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

int ops_main(int argc, char *const argv[])
{
	OpsOptions x = parse_ops_options(argc, argv, ::getenv);
	const Options &o = x.common;
	if (o.help) {
		std::fputs(ops_help_text(o.command).c_str(), stdout);
		return std::fflush(stdout) == 0 ? 0 : 1;
	}
	if (!o.error.empty()) {
		std::fprintf(stderr, "cronlock: %s\nTry 'cronlock %s --help' for more information.\n",
					 o.error.c_str(), o.command.c_str());
		return exit_usage;
	}
	int status = find_command(o.command)->run(x);
	return std::fflush(stdout) == 0 ? status : (status == 0 ? 1 : status);
}

} // namespace cronlock::cli
