// cmd_run.cpp: `cronlock run`: Client::run with COMMAND as the job.
//
// Signals are blocked before any thread starts (threads inherit the mask) and read from
// two signalfds. SIGTERM, SIGINT, SIGHUP and SIGQUIT (term_fd) end every wait of the
// acquisition (stagger, connect, preflight, backoff) and the run is skipped as
// CANCELLED; one pending when the lease is won releases it as cancelled before COMMAND
// starts; while COMMAND runs they are passed to its process group and the run is
// released as cancelled. SIGUSR1, SIGUSR2 and SIGALRM (other_fd, with SIGCHLD) are
// passed to COMMAND's group while it runs and dropped before. SIGPIPE stays blocked:
// a write to a closed pipe fails instead of killing cronlock; so does SIGTTOU, so that
// log lines reach a terminal whose foreground COMMAND has. COMMAND gets the signal mask
// cronlock inherited.
//
// Around Client::run: --log-to and alerts (RunLog), --notify, --max-runtime (in
// supervise), cron_lock_declare for --every/--schedule/--warn-after-skips, the
// stray-instance alert (cron_lock_stray), the --alert-after count and --metrics-dir
// (run_state).
#include <libpq-fe.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>

#include "child.hpp"
#include "client_impl.hpp"
#include "commands.hpp"
#include "cronlock/cronlock.hpp"
#include "cronlock/lease.hpp"
#include "run_log.hpp"
#include "run_state.hpp"

namespace cronlock::cli {
namespace {

// The system Env, except that every wait also watches the terminating signals.
class SignalEnv : public Env {
  public:
	explicit SignalEnv(int term_fd) : term_fd_(term_fd) {}
	SteadyClock::time_point now() override { return system_env().now(); }
	std::uint64_t random_below(std::uint64_t n) override { return system_env().random_below(n); }
	bool sleep_for(Millis d) override
	{
		auto until = SteadyClock::now() + d;
		for (;;) {
			if (interrupted())
				return false;
			auto left = std::chrono::ceil<Millis>(until - SteadyClock::now()).count();
			if (left <= 0)
				return true;
			pollfd p{term_fd_, POLLIN, 0};
			int r = poll(&p, 1, left > INT_MAX ? INT_MAX : static_cast<int>(left));
			if (r < 0 && errno != EINTR)
				return true;
		}
	}
	int interrupt_fd() override { return term_fd_; }
	// Reads what is pending; true once a terminating signal came.
	bool interrupted() override
	{
		signalfd_siginfo si;
		while (read(term_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
			signal_ = static_cast<int>(si.ssi_signo);
		return signal_ != 0;
	}
	int signal() const { return signal_; }

  private:
	int term_fd_;
	int signal_ = 0;
};

// CRONLOCK_DB as COMMAND sees it: without its password (libpq's other sources, such as
// PGPASSFILE, still apply). DATABASE_URL is COMMAND's own business and left alone.
std::optional<std::string> db_without_password(const char *db)
{
	if (!db)
		return std::nullopt;
	char *err = nullptr;
	PQconninfoOption *opts = PQconninfoParse(db, &err);
	PQfreemem(err);
	if (!opts)
		return mask_conninfo(db); // unparsable: mask by syntax
	bool had = false;
	std::string out;
	for (PQconninfoOption *o = opts; o->keyword; ++o) {
		if (!o->val)
			continue;
		if (std::strcmp(o->keyword, "password") == 0) {
			had = true;
			continue;
		}
		std::string v;
		for (const char *c = o->val; *c; ++c) {
			if (*c == '\\' || *c == '\'')
				v += '\\';
			v += *c;
		}
		out += (out.empty() ? "" : " ") + std::string(o->keyword) + "='" + v + "'";
	}
	PQconninfoFree(opts);
	if (!had)
		return std::nullopt;
	return out;
}

// "90s", "5m" as given back in messages: whole seconds.
std::string seconds_text(Millis d)
{
	return std::to_string(d.count() / 1000) + (d.count() % 1000 ? "." + std::to_string(d.count() % 1000 / 100) : "") + "s";
}

std::string signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

} // namespace

int cmd_run(const Options &o)
{
	sigset_t term, other, both, inherited;
	sigemptyset(&term);
	sigemptyset(&other);
	for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT})
		sigaddset(&term, s);
	for (int s : {SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM})
		sigaddset(&other, s);
	sigorset(&both, &term, &other);
	sigaddset(&both, SIGPIPE);
	sigaddset(&both, SIGTTOU); // log lines while COMMAND has the terminal (stty tostop)
	pthread_sigmask(SIG_BLOCK, &both, &inherited);
	int term_fd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
	int other_fd = signalfd(-1, &other, SFD_CLOEXEC | SFD_NONBLOCK);
	if (term_fd < 0 || other_fd < 0) {
		std::fprintf(stderr, "cronlock: signalfd: %s\n", std::strerror(errno));
		return exit_config;
	}
	SignalEnv env(term_fd);
	// Should the keeper be killed, COMMAND's orphans come here, to be stopped.
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	Config cfg;
	cfg.conninfo = o.conninfo;
	cfg.instance = o.instance;
	cfg.ttl = o.ttl;
	cfg.min_gap = o.min_gap;
	cfg.stagger = o.stagger;
	cfg.retry = RetryPolicy{o.retries, o.backoff, o.jitter};
	cfg.connect_timeout = o.connect_timeout;
	cfg.query_timeout = o.query_timeout;
	cfg.grace = o.grace;
	auto logger = std::make_shared<Logger>(o.log_format, o.quiet);
	cfg.logger = logger;
	cfg.env = &env;
	cfg.warn_after_skips = o.warn_after_skips;
	Client client(cfg);
	const Millis grace = cfg.effective_grace();
	const LogContext ctx{o.job, client.instance()};

	std::vector<std::pair<std::string, std::string>> extra_env;
	if (auto db = db_without_password(::getenv("CRONLOCK_DB")))
		extra_env.emplace_back("CRONLOCK_DB", *db);

	RunLog runlog({o.log_to, o.notify, o.job, client.instance(), extra_env});
	logger->set_sink([&runlog](Level level, std::string_view tag, std::initializer_list<Field> fields,
							   std::string_view line) { runlog.line(level, tag, fields, line); });
	auto warn = [&](std::string_view what, const std::string &message) {
		logger->log(ctx, Level::warning, "CRON_WARN", {{"what", what}, {"message", message}});
	};
	if (!runlog.open_error().empty())
		warn("log_to", runlog.open_error());

	// The run's own expectation, once it holds the lease (never on the busy path).
	auto declare = [&](Session &s) {
		std::optional<std::string> tz; // a schedule's zone; --every has none
		if (!o.schedule.empty())
			tz = host_timezone([](const char *k) { return ::getenv(k); });
		auto q = s.query("SELECT cron_lock_declare($1::text, $2::text, $3::interval, $4::text, "
						 "$5::interval, $6::text, $7::integer)",
						 {o.job, client.instance(),
						  o.every ? Param(std::to_string(o.every->count()) + " milliseconds") : std::nullopt,
						  o.schedule.empty() ? std::nullopt : Param(o.schedule),
						  o.late_after ? Param(std::to_string(o.late_after->count()) + " milliseconds")
									   : std::nullopt,
						  tz ? Param(*tz) : std::nullopt,
						  o.warn_after_skips ? Param(std::to_string(*o.warn_after_skips)) : std::nullopt});
		if (!q)
			warn("declare", q.error().sqlstate == "42883"
								? "the server's cron_lock has no cron_lock_declare (before 1.2): "
								  "--every/--schedule/--warn-after-skips not recorded"
								: "cron_lock_declare failed: " + q.error().message);
	};
	const bool declares = o.every || !o.schedule.empty() || o.warn_after_skips;

	// A stray instance (not among those an administrator expects on the job) is an
	// alert on its first run since the declaration: cron_lock_stray says so. One
	// read once the lease is held, never on the busy path; a server before 1.2 has
	// no declarations to break, so its missing function is no warning.
	auto stray = [&](Session &s, const Lease &lease) {
		auto q = s.query("SELECT cron_lock_stray($1::text, $2::bigint)",
						 {lease.job(), std::to_string(lease.run_id())});
		if (!q) {
			if (q.error().sqlstate != "42883")
				warn("stray", "cron_lock_stray failed: " + q.error().message);
			return;
		}
		if (q->rows() == 1 && !q->is_null(0, 0))
			logger->log(ctx, Level::error, "CRON_ALERT",
						{{"event", "stray_instance"},
						 {"run_id", lease.run_id()},
						 {"token", lease.token()},
						 {"message", std::string(q->get(0, 0))}});
	};
	bool max_hit = false;

	auto job = [&](const Lease &lease, std::stop_token lost) -> JobResult {
		if (env.interrupted()) // came while acquiring: never start COMMAND only to kill it
			return JobResult{RunStatus::cancelled, 128 + env.signal(),
							 "cancelled by " + signal_name(env.signal()) + " before COMMAND started"};
		if (declares)
			with_session(client, declare);
		with_session(client, [&](Session &s) { stray(s, lease); });
		auto vars = extra_env;
		vars.insert(vars.end(), {{"CRONLOCK_JOB", lease.job()},
								 {"CRONLOCK_RUN_ID", std::to_string(lease.run_id())},
								 {"CRONLOCK_TOKEN", std::to_string(lease.token())},
								 {"CRONLOCK_INSTANCE", lease.instance()}});
		Spawned child = spawn_child(o.argv, vars, inherited, grace);
		if (child.exec_errno) {
			runlog.exec_errno = child.exec_errno;
			return JobResult{RunStatus::failed, exec_failure_status(child.exec_errno),
							 "cannot execute " + o.argv.front() + ": " +
								 std::strerror(child.exec_errno)};
		}
		ChildExit ex = supervise(child, term_fd, other_fd, lost, grace, o.max_runtime);
		JobResult r;
		r.exit_code = exit_status_of(ex.wait_status);
		if (ex.max_runtime) {
			max_hit = true;
			runlog.max_runtime_hit = true;
			r.status = RunStatus::failed;
			r.exit_code = exit_max_runtime;
			r.message = "ran longer than --max-runtime " + seconds_text(*o.max_runtime) +
						": stopped with SIGTERM (SIGKILL after " + seconds_text(grace) + ")";
			const std::string detail = r.message;
			with_session(client, [&](Session &s) {
				auto q = s.query("SELECT cron_lock_report($1::text, $2::bigint, 'max_runtime', $3::text)",
								 {lease.job(), std::to_string(lease.token()), detail});
				if (!q)
					warn("report", q.error().sqlstate == "42883"
									   ? "the server's cron_lock has no cron_lock_report (before 1.2): "
										 "anomaly max_runtime not recorded"
									   : "cron_lock_report failed: " + q.error().message);
			});
		} else if (ex.tty_stop) {
			r.status = RunStatus::failed;
			r.message = "COMMAND was stopped by " + signal_name(ex.tty_stop) +
						(ex.tty_stop == SIGTSTP
							 ? " (suspended), which would hold the lease indefinitely; killed"
							 : " (it reads or sets up the terminal, which cronlock in the background "
							   "cannot give it); killed");
		} else if (ex.forwarded_signal) {
			r.status = RunStatus::cancelled;
			r.message = "cancelled by " + signal_name(ex.forwarded_signal);
		} else if (r.exit_code != 0) {
			r.status = RunStatus::failed;
			r.message = WIFSIGNALED(ex.wait_status)
							? "killed by " + signal_name(WTERMSIG(ex.wait_status))
							: "exit status " + std::to_string(r.exit_code);
		}
		if (ex.stopped > 0)
			r.message += std::string(r.message.empty() ? "" : "; ") + "stopped " +
						 std::to_string(ex.stopped) + " process" + (ex.stopped > 1 ? "es" : "") +
						 " COMMAND left behind";
		return r;
	};

	Outcome outcome = client.run(o.job, job);
	close(term_fd);
	close(other_fd);

	// --alert-after: the count of consecutive unavailable skips on this host. Reset by
	// any answer of the database to a try; left alone by a permanent error or a cancel.
	const bool unavailable = std::holds_alternative<SkippedUnavailable>(outcome);
	const bool contact = std::holds_alternative<Ran>(outcome) || std::holds_alternative<Busy>(outcome) ||
						 std::holds_alternative<TooSoon>(outcome) ||
						 std::holds_alternative<LeaseLost>(outcome);
	long consecutive = -1;
	if (o.alert_after && (unavailable || contact)) {
		const std::string dir = state_dir([](const char *k) { return ::getenv(k); }, geteuid() == 0);
		CountResult c = update_unavailable_count(dir, o.job, unavailable);
		consecutive = c.count;
		if (!c.warning.empty())
			warn("state_file", c.warning + " (--alert-after counts from here)");
	}
	const bool escalate = unavailable && o.alert_after && consecutive >= *o.alert_after;
	if (escalate)
		logger->log(ctx, Level::error, "CRON_ALERT",
					{{"event", "db_unavailable"},
					 {"consecutive", static_cast<std::int64_t>(consecutive)},
					 {"alert_after", *o.alert_after},
					 {"message", "the database was unreachable for " + std::to_string(consecutive) +
									 " consecutive runs of this job on this host"}});

	struct {
		const Options &o;
		const SignalEnv &env;
		bool max_hit, escalate;
		int operator()(const Ran &r) const { return r.result.exit_code; }
		int operator()(const Busy &) const { return o.on_busy; }
		int operator()(const TooSoon &) const { return o.on_busy; }
		int operator()(const SkippedUnavailable &) const { return escalate ? exit_unavailable : o.on_unavailable; }
		// Whichever came first decides: the --max-runtime stop or the loss.
		int operator()(const LeaseLost &) const { return max_hit ? exit_max_runtime : exit_lost; }
		int operator()(const PermanentError &) const { return exit_config; }
		int operator()(const Cancelled &) const { return 128 + (env.signal() ? env.signal() : SIGTERM); }
	} exit_code{o, env, max_hit, escalate};
	const int status = std::visit(exit_code, outcome);

	if (!o.metrics_dir.empty()) {
		MetricsOutcome m;
		m.exit_code = status;
		m.consecutive_unavailable = consecutive;
		if (auto *r = std::get_if<Ran>(&outcome)) {
			m.outcome = std::string(to_string(r->result.status));
			m.duration_s = static_cast<double>(r->duration.count()) / 1000.0;
		} else if (auto *b = std::get_if<Busy>(&outcome)) {
			m.outcome = b->paused ? "paused" : "busy";
		} else {
			m.outcome = std::holds_alternative<TooSoon>(outcome)              ? "too_soon"
						: unavailable                                          ? "db_unavailable"
						: std::holds_alternative<LeaseLost>(outcome)         ? "lost"
						: std::holds_alternative<PermanentError>(outcome)    ? "permanent_error"
																			   : "cancelled";
		}
		const auto now_ms = std::chrono::duration_cast<Millis>(
								std::chrono::system_clock::now().time_since_epoch())
								.count();
		if (auto w = write_run_metrics(o.metrics_dir, o.job, client.instance(), m, now_ms); !w.empty())
			warn("metrics", w);
	}
	runlog.finish_notify(Millis{10000});
	logger->set_sink({});
	return status;
}

} // namespace cronlock::cli
