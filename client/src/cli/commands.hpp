// commands.hpp: one function per subcommand; each returns the process exit status.
#pragma once

#include "options.hpp"

namespace cronlock::cli {

int cmd_run(const Options &o);
int cmd_status(const Options &o);
int cmd_runs(const Options &o);
int cmd_duplicates(const Options &o);
int cmd_release(const Options &o);
int cmd_doctor(const Options &o);
int cmd_install(const Options &o);
int cmd_uninstall(const Options &o);

// The operating subcommands.
int cmd_health(const Options &o);
int cmd_anomalies(const Options &o);
int cmd_pause(const Options &o);
int cmd_resume(const Options &o);
int cmd_expect(const Options &o);
int cmd_metrics(const Options &o);
int cmd_timeline(const Options &o);

} // namespace cronlock::cli
