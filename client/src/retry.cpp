// retry.cpp: preflight, try, backoff with jitter; one attempt uuid for every retry, so a
// try whose answer was lost is answered `replayed` the next time instead of granting a
// second lease.
#include "cronlock/retry.hpp"

#include <mutex>
#include <random>
#include <thread>

#include "cronlock/uuid.hpp"

namespace cronlock {
namespace {

class SystemEnv : public Env {
  public:
	SystemEnv() : rng_(stable_hash(uuid_v4())) {}
	SteadyClock::time_point now() override { return SteadyClock::now(); }
	std::uint64_t random_below(std::uint64_t n) override
	{
		std::lock_guard lock(mu_);
		return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
	}
	bool sleep_for(Millis d) override
	{
		std::this_thread::sleep_for(d);
		return true;
	}

  private:
	std::mutex mu_;
	std::mt19937_64 rng_;
};

} // namespace

Env &system_env()
{
	static SystemEnv env; // built on first use: no work at program start
	return env;
}

Millis retry_delay(int k, Millis backoff, Millis jitter, Env &env)
{
	std::int64_t d = backoff.count();
	for (int i = 0; i < k && d < max_duration.count(); ++i)
		d *= 2;
	d = std::min(d, max_duration.count());
	if (jitter.count() > 0)
		d += static_cast<std::int64_t>(env.random_below(static_cast<std::uint64_t>(jitter.count())));
	return Millis{d};
}

AcquireResult acquire(AcquireOps &ops, const TryRequest &req, const RetryPolicy &policy, Env &env,
					  const std::function<void(const TryEvent &)> &on_try)
{
	const int tries = std::max(0, policy.retries) + 1;
	std::optional<Error> last_error;
	std::optional<TryAnswer> last_locked;
	for (int n = 1; n <= tries; ++n) {
		if (n > 1 && !env.sleep_for(retry_delay(n - 2, policy.backoff, policy.jitter, env)))
			return Interrupted{};
		const auto t0 = env.now();
		TryEvent ev;
		ev.try_no = n;
		auto report = [&] {
			ev.elapsed = std::chrono::duration_cast<Millis>(env.now() - t0);
			ev.backend_pid = ops.backend_pid();
			if (on_try)
				on_try(ev);
		};
		auto failed = [&](const Error &e) {
			ev.outcome = TryEvent::Outcome::error;
			ev.error = e;
			report();
			last_error = e;
			last_locked.reset();
		};

		if (auto pf = ops.preflight(); !pf) {
			if (env.interrupted())
				return Interrupted{}; // the wait was cut short: no try to report
			failed(pf.error());
			if (pf.error().kind == ErrorKind::permanent)
				return Permanent{pf.error(), n};
			continue;
		}
		if (env.interrupted())
			return Interrupted{};
		const auto t_sent = env.now();
		// Not interruptible: an answer lost mid-statement could leave a lease behind.
		auto r = ops.try_lock(req);
		if (!r) {
			failed(r.error());
			if (r.error().kind == ErrorKind::permanent)
				return Permanent{r.error(), n};
			continue; // transient and in_doubt alike: the same attempt uuid resolves it
		}
		ev.answer = *r;
		switch (classify_reason(r->reason)) {
		case TryVerdict::acquired:
			ev.outcome = TryEvent::Outcome::acquired;
			report();
			return Acquired{*r, t_sent, n};
		case TryVerdict::retry:
			ev.outcome = TryEvent::Outcome::busy;
			report();
			last_locked = *r;
			last_error.reset();
			continue;
		case TryVerdict::busy:
		case TryVerdict::too_soon:
			ev.outcome = TryEvent::Outcome::busy;
			report();
			return BusyAnswer{*r, n};
		}
	}
	if (last_locked)
		return BusyAnswer{*last_locked, tries};
	return Unavailable{last_error.value_or(Error{}), tries};
}

} // namespace cronlock
