// ops_options.hpp: the command line of the operating subcommands (health, anomalies,
// pause, resume, expect, metrics, timeline), parsed like options.hpp's: plain values,
// no side effects. The connection options and the usage conventions are the same.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "options.hpp"

namespace cronlock::cli {

struct OpsOptions {
	// command, help, error, conninfo, timeouts, json, job/has_job, since: as for the
	// admin subcommands.
	Options common;

	bool quiet = false;                    // health -q: only the jobs that need a person
	bool all_jobs = false;                 // expect --all-jobs
	std::optional<std::string> instances;  // expect --instances a,b ("" clears)
	std::optional<Millis> every;           // expect --every
	std::optional<std::string> schedule;   // expect --schedule 'CRON'
	std::optional<Millis> late_after;      // expect --late-after
	std::optional<std::string> timezone;   // expect --timezone (of --schedule)
	bool clear = false;                    // expect --clear
	std::optional<std::string> until;      // pause --until TIME or DURATION
	std::optional<std::string> reason;     // pause --reason
	std::optional<std::string> textfile;   // metrics --textfile PATH
	std::optional<std::string> html;       // timeline --html FILE ("-": stdout)
	long limit = 20000;                    // timeline: at most this many runs drawn
};

// True for the subcommands this parser handles.
bool is_ops_command(std::string_view name);

OpsOptions parse_ops_options(int argc, char *const argv[], const Getenv &getenv);

// Splits "a,b,c" into names, each checked as check_name does; "" gives none. A message
// in `error` when one is bad.
std::vector<std::string> split_names(std::string_view list, std::string &error);

std::string ops_help_text(const std::string &command);

// Runs one operating subcommand (help, usage errors and dispatch); the exit status.
int ops_main(int argc, char *const argv[]);

} // namespace cronlock::cli
