// run_state.hpp: what `cronlock run` keeps on this host between runs: the count of
// consecutive unavailable skips per job (--alert-after) and the Prometheus text file of
// --metrics-dir; and the host's time zone name (cron_lock_declare).
//
// Files are replaced atomically (temp file, fsync, rename) under flock(2) on their
// directory, so two runs of one job at once neither lose a count nor see half a file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cronlock/conninfo.hpp"

namespace cronlock::cli {

// $CRONLOCK_STATE_DIR, else /var/lib/cronlock for root, else $XDG_STATE_HOME/cronlock,
// else ~/.local/state/cronlock.
std::string state_dir(const Getenv &getenv, bool root);

// A file name for `job` (any bytes but NUL and '/' are allowed in job names): the safe
// characters of its first 64 bytes, a dot and a 64-bit hash of the whole name.
std::string job_file_stem(const std::string &job);

struct CountResult {
	long count = 0;       // after the update
	std::string warning;  // "" or why the file could not be read or written
};

// Adds one (`bump`) or resets to zero the consecutive-unavailable count of `job` in
// `dir`, creating `dir` when missing. A corrupt file counts as 0, with a warning.
// Resetting a count that is already zero (or absent) writes nothing.
CountResult update_unavailable_count(const std::string &dir, const std::string &job, bool bump);

// One attempt's outcome for --metrics-dir.
struct MetricsOutcome {
	std::string outcome;   // succeeded failed cancelled lost busy too_soon paused db_unavailable permanent_error
	int exit_code = 0;
	double duration_s = -1; // COMMAND's run time; < 0: it did not run
	long consecutive_unavailable = -1; // < 0: not counted (--alert-after not given)
};

// Writes DIR/cronlock_run_<stem>.prom for (job, instance): the last attempt, its
// outcome, exit code, duration, and, carried over from the file's previous version,
// the last success time and the per-outcome totals. "" or a warning.
std::string write_run_metrics(const std::string &dir, const std::string &job,
							  const std::string &instance, const MetricsOutcome &m,
							  std::int64_t now_ms);

// The metrics text alone (for tests): `previous` is the old file's content.
std::string run_metrics_text(const std::string &job, const std::string &instance,
							 const MetricsOutcome &m, std::int64_t now_ms,
							 const std::string &previous);

// The host's IANA time zone name: $TZ (without a leading ':'), /etc/timezone, or the
// target of /etc/localtime after "zoneinfo/"; nullopt when none says.
std::optional<std::string> host_timezone(const Getenv &getenv);

} // namespace cronlock::cli
