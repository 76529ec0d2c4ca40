// main.cpp: cronlock's entry point: parse, then hand over to one subcommand.
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "commands.hpp"

namespace {

using namespace cronlock::cli;

struct Subcommand {
	std::string_view name;
	int (*run)(const Options &);
};

// Every subcommand but run, which main leaves differently.
constexpr Subcommand subcommands[] = {
	{"status", cmd_status},       {"runs", cmd_runs},           {"duplicates", cmd_duplicates},
	{"doctor", cmd_doctor},       {"release", cmd_release},     {"install", cmd_install},
	{"uninstall", cmd_uninstall}, {"health", cmd_health},       {"anomalies", cmd_anomalies},
	{"pause", cmd_pause},         {"resume", cmd_resume},       {"expect", cmd_expect},
	{"metrics", cmd_metrics},     {"timeline", cmd_timeline},
};

} // namespace

int main(int argc, char *argv[])
{
	Options o = parse_options(argc, argv, ::getenv);
	if (o.help) {
		std::fputs(help_text(o.command).c_str(), stdout);
		return std::fflush(stdout) == 0 ? 0 : 1;
	}
	if (o.version) {
		std::fputs(version_text().c_str(), stdout);
		return std::fflush(stdout) == 0 ? 0 : 1;
	}
	if (!o.error.empty()) {
		std::fprintf(stderr, "cronlock: %s\nTry 'cronlock %s--help' for more information.\n",
					 o.error.c_str(), o.command.empty() ? "" : (o.command + " ").c_str());
		return exit_usage;
	}
	if (o.command == "run") {
		// The job is done and every log line written: leave without running the
		// exit handlers of the libraries libpq loaded (TLS, Kerberos, LDAP), which
		// took longer than the rest of a short job's bookkeeping.
		int status = cmd_run(o);
		bool flushed = std::fflush(stdout) == 0 && std::fflush(stderr) == 0;
		::_exit(flushed ? status : (status == 0 ? 1 : status));
	}
	for (const auto &c : subcommands)
		if (c.name == o.command) {
			int status = c.run(o);
			// Output that could not be written is a failure, whatever the command found.
			return std::fflush(stdout) == 0 ? status : (status == 0 ? 1 : status);
		}
	return exit_usage; // not reached: parse_options knows the same names
}
