// main.cpp: cronlock's entry point: parse, then hand over to one subcommand.
#include <unistd.h>
#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "ops_options.hpp"

int main(int argc, char *argv[])
{
	using namespace cronlock::cli;
	if (argc > 1 && is_ops_command(argv[1]))
		return ops_main(argc, argv);
	Options o = parse_options(argc, argv, ::getenv);
	if (o.help) {
		std::fputs((is_ops_command(o.command) ? ops_help_text(o.command) : help_text(o.command)).c_str(),
				   stdout);
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
	if (o.command == "status")
		return cmd_status(o);
	if (o.command == "runs")
		return cmd_runs(o);
	if (o.command == "duplicates")
		return cmd_duplicates(o);
	if (o.command == "doctor")
		return cmd_doctor(o);
	if (o.command == "install")
		return cmd_install(o);
	if (o.command == "uninstall")
		return cmd_uninstall(o);
	return cmd_release(o);
}
