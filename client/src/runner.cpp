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
#include <cstdlib>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "client_impl.hpp"
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

// The Env of a run given a caller's stop_token: a stop interrupts its sleeps, and its
// interrupt_fd (an eventfd) wakes a connect or preflight in progress.
class StopEnv : public Env {
  public:
	StopEnv(Env &base, std::stop_token st)
		: base_(base), st_(std::move(st)), efd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
		  wake_(st_, [this] { signal(); })
	{
	}
	~StopEnv() override
	{
		if (efd_ >= 0)
			close(efd_);
	}
	SteadyClock::time_point now() override { return base_.now(); }
	std::uint64_t random_below(std::uint64_t n) override { return base_.random_below(n); }
	bool sleep_for(Millis d) override
	{
		std::mutex mu;
		std::condition_variable_any cv;
		std::unique_lock lock(mu);
		return !cv.wait_for(lock, st_, d, [] { return false; }) && !st_.stop_requested();
	}
	int interrupt_fd() override { return efd_; }
	bool interrupted() override { return st_.stop_requested(); }

  private:
	void signal()
	{
		std::uint64_t one = 1;
		if (efd_ >= 0) {
			ssize_t ignored = write(efd_, &one, sizeof one);
			(void)ignored;
		}
	}
	Env &base_;
	std::stop_token st_;
	int efd_;
	std::stop_callback<std::function<void()>> wake_;
};

// The heartbeat thread's body. Renews at t_sent + ttl/3; after a failure retries with a
// doubling wait until deadline - grace, where the deadline thread takes over.
void heartbeat_loop(std::stop_token st, const Lease &lease, const Config &cfg, Env &env,
					std::shared_ptr<const ConnectSettings> settings,
					const std::function<void(std::string)> &on_lost,
					const std::function<void(Session &)> &skips)
{
	Session session(std::move(settings), cfg.query_timeout);
	const Millis interval = cfg.ttl / 3;
	const Millis grace = cfg.effective_grace();
	auto next = LeaseAccess::deadline(lease) - cfg.ttl + interval;
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
		const auto limit = LeaseAccess::deadline(lease) - grace;
		if (t_sent >= limit)
			return; // unreachable until deadline - grace: lost (deadline_watch says so)
		auto r = renew(session, lease, cfg.ttl, env, limit);
		if (st.stop_requested())
			return; // the run is over; the answer no longer matters
		if (r && r->has_value()) {
			next = t_sent + interval;
			retry_wait = cfg.retry.backoff;
			if (skips)
				skips(session);
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
			if (!st.stop_requested() && env.now() >= LeaseAccess::deadline(lease) - grace) {
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
			const auto limit = LeaseAccess::deadline(lease) - grace;
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

// True for an error that means "this server's cron_lock has no such function" (1.1).
bool missing_function(const Error &e)
{
	return e.sqlstate == "42883";
}

} // namespace

Outcome Client::run(std::string_view job_name, const Job &fn, std::stop_token stop)
{
	Impl &d = *impl_;
	const Config &cfg_ = d.cfg;
	const std::string &instance_ = d.instance;
	// A caller's stop_token interrupts the stagger and the acquisition through this Env.
	std::optional<StopEnv> stop_env;
	if (stop.stop_possible())
		stop_env.emplace(d.env(), stop);
	Env &env = stop_env ? static_cast<Env &>(*stop_env) : d.env();
	const std::string job(job_name);
	Logger *log = cfg_.logger.get();
	const LogContext ctx{job, instance_};
	auto emit = [log, &ctx](Level level, std::string_view tag, std::initializer_list<Field> fields) {
		if (log)
			log->log(ctx, level, tag, fields);
	};
	const auto t_start = env.now();
	const std::string attempt = uuid_v4();
	emit(Level::info, "CRON_BOOT",
		 {{"started_at", utc_timestamp()}, {"version", version}, {"attempt", attempt}});

	if (cfg_.stagger.count() > 0) {
		Millis offset{static_cast<std::int64_t>(stable_hash(job) %
												static_cast<std::uint64_t>(cfg_.stagger.count()))};
		if (!env.sleep_for(offset)) {
			emit(Level::warning, "CRON_SKIP", {{"reason", "CANCELLED"}, {"tries", 0}});
			return Cancelled{};
		}
	}

	if (stop.stop_requested()) { // stopped already: not even one try
		emit(Level::warning, "CRON_SKIP", {{"reason", "CANCELLED"}, {"tries", 0}});
		return Cancelled{};
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
	AcquireResult acquired = d.acquire_attempt(job, attempt, env, on_try);
	const std::int64_t waited = ms_since(env, t_start);

	if (std::holds_alternative<Interrupted>(acquired)) {
		emit(Level::warning, "CRON_SKIP", {{"reason", "CANCELLED"}, {"elapsed_ms", waited}});
		return Cancelled{};
	}
	if (auto *p = std::get_if<Permanent>(&acquired)) {
		if (p->tries == 0) // refused before any try: still one line that says why
			on_try(TryEvent{1, TryEvent::Outcome::error, Millis{0}, std::nullopt, p->error, 0});
		const bool missing = p->error.cls == ErrorClass::extension_missing;
		emit(Level::error, "CRON_SKIP",
			 {{"reason", "PERMANENT_ERROR"}, {"tries", p->tries}, {"elapsed_ms", waited},
			  {"error_class", to_string(p->error.cls)},
			  missing ? Field("hint", "install cron_lock in this database: CREATE EXTENSION "
									  "cron_lock (a superuser, where the extension's files are "
									  "installed), or `cronlock install` (the plain-SQL edition, "
									  "as the database owner); then GRANT cron_lock_user TO the "
									  "role that runs jobs")
					  : Field("hint", std::monostate{})});
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
		bool paused = b->answer.reason == "paused";
		emit(Level::info, "CRON_SKIP",
			 {{"reason", too_soon ? "TOO_SOON" : paused ? "PAUSED" : "BUSY"},
			  {"tries", b->tries},
			  {"elapsed_ms", waited},
			  opt_str("holder", b->answer.holder)});
		if (too_soon)
			return TooSoon{b->tries};
		return Busy{b->answer.holder, b->answer.reason == "locked", b->tries, paused};
	}

	const auto &won = std::get<Acquired>(acquired);
	const auto wall_sent = std::chrono::system_clock::now() -
						   std::chrono::duration_cast<std::chrono::system_clock::duration>(
							   env.now() - won.t_sent);
	Lease lease(job, instance_, *won.answer.run_id, *won.answer.token, wall_sent + cfg_.ttl);
	LeaseAccess::renewed(lease, won.t_sent, wall_sent, cfg_.ttl);
	// A stale takeover is an anomaly: a warning, which -q keeps.
	emit(won.answer.reason == "took_over" ? Level::warning : Level::info, "CRON_RUN",
		 {{"run_id", lease.run_id()},
		  {"token", lease.token()},
		  {"backend_pid", with_session(*this, [](Session &s) { return s.backend_pid(); })},
		  {"reason", won.answer.reason},
		  won.answer.took_over ? Field("took_over", *won.answer.took_over)
							   : Field("took_over", std::monostate{})});

	std::stop_source lost; // the job's stop_token: the lease is lost, or the caller stopped
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

	// --warn-after-skips: polled on the heartbeat connection after each renewal.
	bool skips_done = false;
	std::function<void(Session &)> skips;
	if (cfg_.warn_after_skips)
		skips = [&](Session &s) {
			if (skips_done)
				return;
			const std::string token = std::to_string(lease.token());
			auto q = s.query("SELECT cron_lock_skips($1::text, $2::bigint)", {job, token});
			if (!q) {
				if (missing_function(q.error())) {
					skips_done = true;
					emit(Level::warning, "CRON_WARN",
						 {{"what", "warn_after_skips"},
						  {"message", "the server's cron_lock has no cron_lock_skips (before 1.2): "
									  "--warn-after-skips is ignored"}});
				}
				return; // a blip: ask again at the next heartbeat
			}
			std::int64_t n = 0;
			if (q->rows() == 1 && !q->is_null(0, 0))
				n = std::strtoll(std::string(q->get(0, 0)).c_str(), nullptr, 10);
			if (n < *cfg_.warn_after_skips)
				return;
			skips_done = true;
			const std::string detail = "this run made other instances skip " + std::to_string(n) +
									   " times (--warn-after-skips " +
									   std::to_string(*cfg_.warn_after_skips) + ")";
			auto rep = s.query("SELECT cron_lock_report($1::text, $2::bigint, 'many_skips', $3::text)",
							   {job, token, detail});
			emit(Level::warning, "CRON_ALERT",
				 {{"event", "many_skips"},
				  {"run_id", lease.run_id()},
				  {"token", lease.token()},
				  {"skips", n},
				  {"message", detail},
				  !rep ? Field("report_error", rep.error().message) : Field("report_error", std::monostate{})});
		};

	const auto t_run = env.now();
	JobResult result;
	bool cancelled = false;
	try {
		std::stop_callback on_stop(stop, [&lost] { lost.request_stop(); });
		std::jthread watch(deadline_watch, std::cref(lease), cfg_.effective_grace(),
						   std::ref(env), std::cref(on_lost));
		std::jthread beat(heartbeat_loop, std::cref(lease), std::cref(cfg_), std::ref(env),
						  d.settings, std::cref(on_lost), std::cref(skips));
		result = fn(lease, lost.get_token());
		cancelled = stop.stop_requested();
	} catch (...) {
		// The job threw: end its run as failed (best effort), then let the caller see it.
		release(lease, RunStatus::failed, "the job threw an exception");
		throw;
	}
	std::string lost_why;
	{
		std::lock_guard lock(why_mu);
		lost_why = why;
	}
	const bool was_lost = !lost_why.empty();
	if (cancelled && !was_lost)
		result.status = RunStatus::cancelled; // whatever the job returned
	// Release retries wait on the base Env: a caller's stop must not cut them short.
	Env &renv = d.env();

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
			!renv.sleep_for(retry_delay(k - 1, cfg_.retry.backoff, cfg_.retry.jitter, renv)))
			break;
		rel = release(lease, result.status, message);
		if (*rel || rel->error().kind == ErrorKind::permanent)
			break;
	}
	const bool released = rel && *rel && rel->value();
	const char *release_state = !rel || !*rel ? "failed" : rel->value() ? "ok" : "taken_over";
	const Error *rel_err = rel && !*rel ? &rel->error() : nullptr;
	const Millis duration = std::chrono::duration_cast<Millis>(env.now() - t_run);
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
