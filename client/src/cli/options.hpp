// options.hpp: the command line of cronlock, parsed into plain values (no side effects,
// so the tests can feed it any argv and environment).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cronlock/conninfo.hpp"
#include "cronlock/duration.hpp"
#include "cronlock/log.hpp"

namespace cronlock::cli {

inline constexpr int exit_usage = 64;       // EX_USAGE
inline constexpr int exit_unavailable = 69; // EX_UNAVAILABLE (subcommands other than run)
inline constexpr int exit_lost = 75;        // EX_TEMPFAIL: the lease was lost
inline constexpr int exit_config = 78;      // EX_CONFIG: permanent database/config error
inline constexpr int exit_max_runtime = 124; // as timeout(1)

struct Options {
	std::string command;  // run, status, runs, duplicates, doctor, release, install, uninstall,
						  // health, anomalies, pause, resume, expect, metrics, timeline
	bool help = false;    // print help for `command` ("" = general) to stdout, exit 0
	bool version = false;
	std::string error;    // non-empty: usage error, exit 64

	// Connection, every subcommand.
	std::string conninfo; // resolved: --db, $CRONLOCK_DB, $DATABASE_URL or ""
	Millis connect_timeout{5000};
	Millis query_timeout{2000}; // --preflight-timeout (run) or --timeout
	bool json = false;

	// run
	std::string job;
	std::string instance; // --instance, else $CRONLOCK_INSTANCE, else "" (host name)
	Millis ttl{60000};
	std::optional<Millis> min_gap;
	Millis stagger{0};
	int retries = 5;
	Millis backoff{250};
	Millis jitter{250};
	int on_busy = 0;
	int on_unavailable = 0;
	std::optional<Millis> grace;
	LogFormat log_format = LogFormat::logfmt;
	bool quiet = false;                  // run: only warnings and errors; health: only the
										 // jobs that need a person
	std::string log_to = "auto";         // auto, stderr, syslog or a file name
	std::optional<Millis> max_runtime;   // SIGTERM, grace, SIGKILL; exit 124
	std::optional<int> warn_after_skips; // alert once the run made others skip N times
	std::optional<int> alert_after;      // the N-th consecutive unavailable skip: exit 69
	std::string notify;                  // /bin/sh -c NOTIFY for every alert
	std::optional<Millis> every;         // the job's expectation (run: cron_lock_declare)
	std::string schedule;                // five-field crontab schedule
	bool has_schedule = false;           // --schedule given (expect tells '' from none)
	std::optional<Millis> late_after;
	std::string metrics_dir;             // this host's outcome per job, Prometheus text
	std::vector<std::string> argv; // COMMAND [ARG...]

	// runs, duplicates, release, and the operating subcommands
	bool has_job = false;
	long limit = 20;        // runs; timeline: 20000 unless given
	Millis since{86400000}; // duplicates, anomalies, timeline
	bool force = false;
	std::optional<long long> token;
	std::vector<std::string> statuses; // runs --status S[,S...]

	// install, uninstall
	std::optional<std::string> schema; // --schema: where the functions go
	bool purge = false;                // --purge: drop the history too

	// expect, pause, metrics, timeline
	bool all_jobs = false;                 // expect --all-jobs
	std::optional<std::string> instances;  // expect --instances a,b ("" clears)
	std::optional<std::string> timezone;   // expect --timezone (of --schedule)
	bool clear = false;                    // expect --clear
	std::optional<std::string> until;      // pause --until TIME or DURATION
	std::optional<std::string> reason;     // pause --reason
	std::optional<std::string> textfile;   // metrics --textfile PATH
	std::optional<std::string> html;       // timeline --html FILE ("-": stdout)
};

Options parse_options(int argc, char *const argv[], const Getenv &getenv);

// "" when `s` looks like a five-field crontab schedule (numbers, names, * , - /), else why not.
std::string check_schedule(const std::string &s);

// Splits "a,b,c" into names, each checked as check_name does; "" gives none. A message
// in `error` when one is bad.
std::vector<std::string> split_names(std::string_view list, std::string &error);

// Help texts (stdout) for "" (general) or a subcommand.
std::string help_text(const std::string &command);
std::string version_text();

} // namespace cronlock::cli
