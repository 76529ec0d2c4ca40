// cronlock/cronlock.hpp: leases with fencing tokens for scheduled jobs (cron_lock).
//
//   cronlock::Config cfg = cronlock::Config::from_environment();
//   cronlock::Client client(cfg);
//   auto outcome = client.run("nightly-report", [](const cronlock::Lease &lease,
//                                                  std::stop_token stop) {
//       ... work, checking stop.stop_requested() ...
//       return cronlock::JobResult{};
//   }, caller_stop_token); // optional
//
// Every outcome is a value; no exception escapes for a database problem. A Client may
// be shared by threads: acquisitions and releases use one mutex-guarded connection,
// and each run() heartbeats on a connection of its own, opened only when needed.
#pragma once

#include "cronlock/export.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <variant>

#include "cronlock/classify.hpp"
#include "cronlock/duration.hpp"
#include "cronlock/log.hpp"
#include "cronlock/retry.hpp"
#include "cronlock/version.hpp"

namespace cronlock {

enum class RunStatus { succeeded, failed, cancelled };
CRONLOCK_API std::string_view to_string(RunStatus s);

struct CRONLOCK_API Config {
	std::string conninfo;       // "" means libpq's PG* variables
	std::string instance;       // "" means the host name
	Millis ttl{60000};          // at least 3s
	std::optional<Millis> min_gap;
	Millis stagger{0};          // per-job offset in [0, stagger), same on every host
	RetryPolicy retry;          // 5 retries, 250ms doubling, 250ms jitter
	Millis connect_timeout{5000};
	Millis query_timeout{2000}; // the preflight's and every other statement's deadline
	std::optional<Millis> grace; // default min(10s, ttl/4)
	std::shared_ptr<Logger> logger; // null: silent
	Env *env = nullptr;             // null: system_env()
	// At each heartbeat, ask the server how many busy answers this run has given other
	// instances (cron_lock_skips); from N on, report anomaly many_skips once and log a
	// [CRON_ALERT] event=many_skips line. Needs a 1.2 server (else one warning).
	std::optional<int> warn_after_skips;

	// conninfo from $CRONLOCK_DB or $DATABASE_URL, instance from $CRONLOCK_INSTANCE.
	static Config from_environment();
	Millis effective_grace() const;
};

// Checks what the server would refuse anyway (empty, > 200 bytes, control characters,
// leading or trailing spaces); returns a message, or "" when fine.
CRONLOCK_API std::string check_name(std::string_view what, std::string_view value);

// A held lease. expires_at() moves forward with every successful heartbeat; copies
// share it.
class CRONLOCK_API Lease {
  public:
	Lease(std::string job, std::string instance, std::int64_t run_id, std::int64_t token,
		  std::chrono::system_clock::time_point expires_at);
	const std::string &job() const { return job_; }
	const std::string &instance() const { return instance_; }
	std::int64_t run_id() const { return run_id_; }
	std::int64_t token() const { return token_; }
	std::chrono::system_clock::time_point expires_at() const;

  private:
	friend struct LeaseAccess;
	struct State;
	std::string job_, instance_;
	std::int64_t run_id_, token_;
	std::shared_ptr<State> state_;
};

// What the job reports back; decides the release status.
struct JobResult {
	RunStatus status = RunStatus::succeeded;
	int exit_code = 0;
	std::string message;
};

using Job = std::function<JobResult(const Lease &, std::stop_token)>;

struct Ran {
	JobResult result;
	std::int64_t run_id = 0, token = 0;
	bool released = false; // false: the release failed; the lease expires on its own
	Millis duration{0};
};
struct Busy {
	std::optional<std::string> holder;
	bool locked = false; // still locked after all retries
	int tries = 0;
	bool paused = false; // the job is paused (cron_lock_pause): reason paused
};
struct TooSoon {
	int tries = 0;
};
struct SkippedUnavailable {
	Error last;
	int tries = 0;
};
struct LeaseLost {
	JobResult result;
	std::int64_t run_id = 0, token = 0;
	std::string why;
};
struct PermanentError {
	Error error;
};
struct Cancelled {}; // stopped (the caller's stop_token, the Env's interrupt) before the job started

using Outcome =
	std::variant<Ran, Busy, TooSoon, SkippedUnavailable, LeaseLost, PermanentError, Cancelled>;

class CRONLOCK_API Client {
  public:
	explicit Client(Config cfg);
	~Client();
	Client(const Client &) = delete;
	Client &operator=(const Client &) = delete;

	const Config &config() const;
	const std::string &instance() const;
	// Set when the conninfo could not be parsed; every call then fails permanently.
	const std::optional<Error> &config_error() const;

	// Preflight, then cron_lock_try with retries under one new attempt uuid.
	AcquireResult try_acquire(std::string_view job,
							  const std::function<void(const TryEvent &)> &on_try = {});
	// One heartbeat: the lease's new expires_at, or nullopt when the lease is gone.
	Result<std::optional<std::chrono::system_clock::time_point>> heartbeat(const Lease &lease);
	Result<bool> release(const Lease &lease, RunStatus status, const std::string &message = {});
	Result<bool> force_release(const std::string &job, std::optional<std::int64_t> token = {});

	// The whole protocol: stagger, preflight, acquire with retries, run `job` with a
	// heartbeat, release; logs every step through config().logger. A stop requested on
	// `stop` cancels the acquisition (Cancelled) or, once the job runs, requests the
	// job's stop_token; the run is then released as cancelled.
	Outcome run(std::string_view job, const Job &fn, std::stop_token stop = {});

	struct Impl;

  private:
	friend struct ClientAccess;
	std::unique_ptr<Impl> impl_;
};

} // namespace cronlock
