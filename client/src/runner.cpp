// runner.cpp: Client::run, the protocol of CONTRACT 2.1 for any callable: stagger,
// preflight and acquire with retries, heartbeat on a connection of its own, lease
// deadline on the monotonic clock, release, and one log line per event.
//
// Threads: the caller's thread runs the job; per run(), a heartbeat thread renews the
// lease every ttl/3 and only moves its deadline forward, and a deadline thread, which
// does no I/O, requests the job's stop_token at deadline - grace unless a renewal came
// (a heartbeat blocked in libpq, e.g. by a resolver that never answers, cannot delay it).
// The heartbeat connection is opened on the first renewal, so a short job never opens it.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <thread>

#include "cronlock/cronlock.hpp"
#include "cronlock/uuid.hpp"

namespace cronlock {
namespace {

std::int64_t ms_since(Env &env, SteadyClock::time_point t)
{
	return std::chrono::duration_cast<Millis>(env.now() - t).count();
}

Field opt_str(std::string_view key, const std::optional<std::string> &v)
{
	return v ? Field(key, *v) : Field(key, std::monostate{});
}

// The heartbeat thread's body. Renews at t_sent + ttl/3; after a failure retries with a
// doubling wait until deadline - grace, where the deadline thread takes over.
void heartbeat_loop(std::stop_token st, const Lease &lease, const Config &cfg, Env &env,
					std::shared_ptr<const ConnectSettings> settings,
					const std::function<void(std::string)> &on_lost)
{
	Session session(std::move(settings), cfg.query_timeout);
	const Millis interval = cfg.ttl / 3;
	const Millis grace = cfg.effective_grace();
	auto next = lease.deadline() - cfg.ttl + interval;
	Millis retry_wait = cfg.retry.backoff;
	std::mutex mu;
	std::condition_variable_any cv;
	for (;;) {
		{
			std::unique_lock lock(mu);
			cv.wait_until(lock, st, next, [] { return false; });
		}
		if (st.stop_requested())
			return;
		const auto t_sent = env.now();
		const auto limit = lease.deadline() - grace;
		if (t_sent >= limit)
			return; // unreachable until deadline - grace: lost (deadline_watch says so)
		auto r = session.heartbeat(lease.job(), lease.token(), cfg.ttl, limit);
		if (st.stop_requested())
			return; // the run is over; the answer no longer matters
		if (r && r->has_value()) {
			lease.set_deadline(t_sent + cfg.ttl);
			next = t_sent + interval;
			retry_wait = cfg.retry.backoff;
			continue;
		}
		if (r) {
			on_lost("heartbeat_null"); // taken over or force-released: gone already
			return;
		}
		next = std::min(env.now() + retry_wait, limit);
		retry_wait = std::min(retry_wait * 2, interval);
	}
}

// The deadline thread's body: sleeps on a CLOCK_BOOTTIME timer until deadline - grace,
// re-arms while renewals move the deadline, then declares the lease lost ("no_renewal").
// Only a timerfd and an eventfd: nothing here can block on the network.
void deadline_watch(std::stop_token st, const Lease &lease, Millis grace, Env &env,
					const std::function<void(std::string)> &on_lost)
{
	int tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (tfd < 0 || efd < 0) { // out of file descriptors: poll the clock instead
		if (tfd >= 0)
			close(tfd);
		if (efd >= 0)
			close(efd);
		std::mutex mu;
		std::condition_variable_any cv;
		std::unique_lock lock(mu);
		while (!cv.wait_for(lock, st, Millis{100}, [] { return false; }))
			if (!st.stop_requested() && env.now() >= lease.deadline() - grace) {
				on_lost("no_renewal");
				return;
			}
		return;
	}
	{
		std::stop_callback wake(st, [efd] {
			std::uint64_t one = 1;
			ssize_t ignored = write(efd, &one, sizeof one);
			(void)ignored;
		});
		while (!st.stop_requested()) {
			const auto limit = lease.deadline() - grace;
			if (env.now() >= limit) {
				on_lost("no_renewal");
				break;
			}
			// Relative, so an injected clock works too; a relative CLOCK_BOOTTIME timer
			// counts suspended time as well.
			const std::int64_t ns = std::max<std::int64_t>(
				1, std::chrono::duration_cast<std::chrono::nanoseconds>(limit - env.now()).count());
			itimerspec its{};
			its.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
			its.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
			timerfd_settime(tfd, 0, &its, nullptr);
			pollfd p[2] = {{tfd, POLLIN, 0}, {efd, POLLIN, 0}};
			if (poll(p, 2, -1) > 0 && (p[0].revents & POLLIN)) {
				std::uint64_t n;
				ssize_t ignored = read(tfd, &n, sizeof n);
				(void)ignored;
			}
		}
	}
	close(tfd);
	close(efd);
}

} // namespace

Outcome Client::run(std::string_view job_name, const Job &fn)
{
	const std::string job(job_name);
	Logger *log = cfg_.logger.get();
	const LogContext ctx{job, instance_};
	auto emit = [log, &ctx](Level level, std::string_view tag, std::initializer_list<Field> fields) {
		if (log)
			log->log(ctx, level, tag, fields);
	};
	const auto t_start = env().now();
	const std::string attempt = uuid_v4();
	emit(Level::info, "CRON_BOOT",
		 {{"started_at", utc_timestamp()}, {"version", version}, {"attempt", attempt}});

	if (cfg_.stagger.count() > 0) {
		Millis offset{static_cast<std::int64_t>(stable_hash(job) %
												static_cast<std::uint64_t>(cfg_.stagger.count()))};
		if (!env().sleep_for(offset)) {
			emit(Level::warning, "CRON_SKIP", {{"reason", "CANCELLED"}, {"tries", 0}});
			return Cancelled{};
		}
	}

	auto on_try = [&](const TryEvent &ev) {
		static constexpr std::string_view outcomes[] = {"acquired", "busy", "error"};
		const Error *e = ev.error ? &*ev.error : nullptr;
		bool fatal = e && e->kind == ErrorKind::permanent;
		emit(fatal ? Level::error : Level::info, "CRON_LOCK",
			 {{"try", ev.try_no},
			  {"outcome", outcomes[static_cast<int>(ev.outcome)]},
			  {"elapsed_ms", static_cast<std::int64_t>(ev.elapsed.count())},
			  ev.answer ? Field("reason", ev.answer->reason) : Field("reason", std::monostate{}),
			  e ? Field("error_class", to_string(e->cls)) : Field("error_class", std::monostate{}),
			  e && !e->sqlstate.empty() ? Field("sqlstate", e->sqlstate)
										: Field("sqlstate", std::monostate{}),
			  ev.backend_pid ? Field("backend_pid", ev.backend_pid)
							 : Field("backend_pid", std::monostate{}),
			  ev.answer && ev.outcome == TryEvent::Outcome::busy ? opt_str("holder", ev.answer->holder)
																  : Field("holder", std::monostate{}),
			  e ? Field("message", e->message) : Field("message", std::monostate{})});
	};
	AcquireResult acquired = acquire_attempt(job, attempt, on_try);
	const std::int64_t waited = ms_since(env(), t_start);

	if (std::holds_alternative<Interrupted>(acquired)) {
		emit(Level::warning, "CRON_SKIP", {{"reason", "CANCELLED"}, {"elapsed_ms", waited}});
		return Cancelled{};
	}
	if (auto *p = std::get_if<Permanent>(&acquired)) {
		if (p->tries == 0) // refused before any try: still one line that says why
			on_try(TryEvent{1, TryEvent::Outcome::error, Millis{0}, std::nullopt, p->error, 0});
		emit(Level::error, "CRON_SKIP",
			 {{"reason", "PERMANENT_ERROR"}, {"tries", p->tries}, {"elapsed_ms", waited},
			  {"error_class", to_string(p->error.cls)}});
		return PermanentError{p->error};
	}
	if (auto *u = std::get_if<Unavailable>(&acquired)) {
		emit(Level::warning, "CRON_SKIP",
			 {{"reason", "DB_UNAVAILABLE"}, {"tries", u->tries}, {"elapsed_ms", waited},
			  {"error_class", to_string(u->last.cls)}});
		return SkippedUnavailable{u->last, u->tries};
	}
	if (auto *b = std::get_if<BusyAnswer>(&acquired)) {
		bool too_soon = classify_reason(b->answer.reason) == TryVerdict::too_soon;
		emit(Level::info, "CRON_SKIP",
			 {{"reason", too_soon ? "TOO_SOON" : "BUSY"}, {"tries", b->tries}, {"elapsed_ms", waited},
			  opt_str("holder", b->answer.holder)});
		if (too_soon)
			return TooSoon{b->tries};
		return Busy{b->answer.holder, b->answer.reason == "locked", b->tries};
	}

	const auto &won = std::get<Acquired>(acquired);
	Lease lease(job, instance_, *won.answer.run_id, *won.answer.token, won.t_sent + cfg_.ttl);
	emit(Level::info, "CRON_RUN",
		 {{"run_id", lease.run_id()},
		  {"token", lease.token()},
		  {"backend_pid", with_session([](Session &s) { return s.backend_pid(); })},
		  {"reason", won.answer.reason},
		  won.answer.took_over ? Field("took_over", *won.answer.took_over)
							   : Field("took_over", std::monostate{})});

	std::stop_source lost;
	std::mutex why_mu;
	std::string why;
	auto on_lost = [&](std::string reason) {
		{
			std::lock_guard lock(why_mu);
			if (!why.empty())
				return; // the first reason stands
			why = reason;
		}
		lost.request_stop(); // before the log line: a blocked stderr must not delay it
		emit(Level::warning, "CRON_LOST",
			 {{"run_id", lease.run_id()}, {"token", lease.token()}, {"why", reason}});
	};

	const auto t_run = env().now();
	JobResult result;
	try {
		std::jthread watch(deadline_watch, std::cref(lease), cfg_.effective_grace(),
						   std::ref(env()), std::cref(on_lost));
		std::jthread beat(heartbeat_loop, std::cref(lease), std::cref(cfg_), std::ref(env()),
						  settings_, std::cref(on_lost));
		result = fn(lease, lost.get_token());
	} catch (...) {
		// The job threw: end its run as failed (best effort), then let the caller see it.
		release(lease, RunStatus::failed, "the job threw an exception");
		throw;
	}
	const bool was_lost = lost.stop_requested();
	std::string lost_why;
	{
		std::lock_guard lock(why_mu);
		lost_why = why;
	}

	std::string message = result.message;
	if (was_lost)
		message = "lease lost (" + lost_why + ")" + (message.empty() ? "" : ": " + message);
	// Release on the main connection. A retried release is answered true, so it gets the
	// acquisition's retry budget (a server restart should not leave the lease to expire);
	// after a loss one try records the late report, more would only delay the exit.
	std::optional<Result<bool>> rel;
	const int attempts = was_lost ? 1 : 1 + std::max(0, cfg_.retry.retries);
	for (int k = 0; k < attempts; ++k) {
		if (k > 0 &&
			!env().sleep_for(retry_delay(k - 1, cfg_.retry.backoff, cfg_.retry.jitter, env())))
			break;
		rel = release(lease, result.status, message);
		if (*rel || rel->error().kind == ErrorKind::permanent)
			break;
	}
	const bool released = rel && *rel && rel->value();
	const char *release_state = !rel || !*rel ? "failed" : rel->value() ? "ok" : "taken_over";
	const Error *rel_err = rel && !*rel ? &rel->error() : nullptr;
	const Millis duration = std::chrono::duration_cast<Millis>(env().now() - t_run);
	// A run that did not succeed is a warning: -q still reports it (cron mails output).
	const bool good = released && !was_lost && result.status == RunStatus::succeeded;
	emit(good ? Level::info : Level::warning, "CRON_DONE",
		 {{"run_id", lease.run_id()},
		  {"status", was_lost ? std::string_view("lost") : to_string(result.status)},
		  {"exit_code", result.exit_code},
		  {"duration_ms", static_cast<std::int64_t>(duration.count())},
		  {"release", release_state},
		  rel_err ? Field("error_class", to_string(rel_err->cls))
				  : Field("error_class", std::monostate{}),
		  result.message.empty() ? Field("message", std::monostate{})
								 : Field("message", result.message)});
	if (was_lost)
		return LeaseLost{result, lease.run_id(), lease.token(), lost_why};
	return Ran{result, lease.run_id(), lease.token(), released, duration};
}

} // namespace cronlock
