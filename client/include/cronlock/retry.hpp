// cronlock/retry.hpp: the acquisition algorithm: preflight, try, backoff with jitter,
// one attempt uuid for every retry. Time, randomness and sleeping come from an Env so
// the schedule is testable to the millisecond.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "cronlock/classify.hpp"
#include "cronlock/duration.hpp"

namespace cronlock {

class Env {
  public:
	virtual ~Env() = default;
	virtual SteadyClock::time_point now() = 0;
	virtual std::uint64_t random_below(std::uint64_t n) = 0; // uniform in [0, n), n > 0
	virtual bool sleep_for(Millis d) = 0;                    // false: interrupted, give up
	// A descriptor that becomes readable when waiting should stop (a signalfd), or -1;
	// connecting and the preflight watch it. interrupted() says whether it did.
	virtual int interrupt_fd() { return -1; }
	virtual bool interrupted() { return false; }
};

// Real clock, a seeded PRNG, and an uninterruptible sleep.
Env &system_env();

// Delay before retry k (k = 0 for the first retry): backoff * 2^k + uniform[0, jitter).
Millis retry_delay(int k, Millis backoff, Millis jitter, Env &env);

// One answer of cron_lock_try.
struct TryAnswer {
	bool acquired = false;
	std::string reason;
	std::optional<std::int64_t> run_id;
	std::optional<std::int64_t> token;
	std::optional<std::string> holder;
	std::optional<int> holder_pid;
	std::optional<std::string> expires_at;
	std::optional<std::int64_t> took_over;
};

struct TryRequest {
	std::string job;
	std::string instance;
	Millis ttl{60000};
	std::optional<Millis> min_gap;
	std::string attempt; // uuid
};

// The database operations the algorithm needs; Session implements them over libpq.
class AcquireOps {
  public:
	virtual ~AcquireOps() = default;
	virtual Result<Ok> preflight() = 0; // connect if needed, then SELECT 1
	virtual Result<TryAnswer> try_lock(const TryRequest &req) = 0;
	virtual int backend_pid() const = 0;
};

struct RetryPolicy {
	int retries = 5;
	Millis backoff{250};
	Millis jitter{250};
};

// Reported once per try (the [CRON_LOCK] line).
struct TryEvent {
	int try_no = 0;
	enum class Outcome { acquired, busy, error } outcome = Outcome::error;
	Millis elapsed{0};
	std::optional<TryAnswer> answer;
	std::optional<Error> error;
	int backend_pid = 0;
};

struct Acquired {
	TryAnswer answer;
	SteadyClock::time_point t_sent; // when the winning try was sent
	int tries = 0;
};
struct BusyAnswer {
	TryAnswer answer; // reason held, locked or too_soon
	int tries = 0;
};
struct Unavailable {
	Error last;
	int tries = 0;
};
struct Permanent {
	Error error;
	int tries = 0;
};
struct Interrupted {};

using AcquireResult = std::variant<Acquired, BusyAnswer, Unavailable, Permanent, Interrupted>;

AcquireResult acquire(AcquireOps &ops, const TryRequest &req, const RetryPolicy &policy, Env &env,
					  const std::function<void(const TryEvent &)> &on_try);

} // namespace cronlock
