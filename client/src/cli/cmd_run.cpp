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
#include "commands.hpp"
#include "cronlock/cronlock.hpp"

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
	cfg.logger = std::make_shared<Logger>(o.log_format, o.quiet);
	cfg.env = &env;
	Client client(cfg);
	const Millis grace = cfg.effective_grace();

	std::vector<std::pair<std::string, std::string>> extra_env;
	if (auto db = db_without_password(::getenv("CRONLOCK_DB")))
		extra_env.emplace_back("CRONLOCK_DB", *db);

	auto job = [&](const Lease &lease, std::stop_token lost) -> JobResult {
		if (env.interrupted()) // came while acquiring: never start COMMAND only to kill it
			return JobResult{RunStatus::cancelled, 128 + env.signal(),
							 "cancelled by " + signal_name(env.signal()) + " before COMMAND started"};
		auto vars = extra_env;
		vars.insert(vars.end(), {{"CRONLOCK_JOB", lease.job()},
								 {"CRONLOCK_RUN_ID", std::to_string(lease.run_id())},
								 {"CRONLOCK_TOKEN", std::to_string(lease.token())},
								 {"CRONLOCK_INSTANCE", lease.instance()}});
		Spawned child = spawn_child(o.argv, vars, inherited, grace);
		if (child.exec_errno)
			return JobResult{RunStatus::failed, exec_failure_status(child.exec_errno),
							 "cannot execute " + o.argv.front() + ": " +
								 std::strerror(child.exec_errno)};
		ChildExit ex = supervise(child, term_fd, other_fd, lost, grace);
		JobResult r;
		r.exit_code = exit_status_of(ex.wait_status);
		if (ex.tty_stop) {
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
	struct {
		const Options &o;
		const SignalEnv &env;
		int operator()(const Ran &r) const { return r.result.exit_code; }
		int operator()(const Busy &) const { return o.on_busy; }
		int operator()(const TooSoon &) const { return o.on_busy; }
		int operator()(const SkippedUnavailable &) const { return o.on_unavailable; }
		int operator()(const LeaseLost &) const { return exit_lost; }
		int operator()(const PermanentError &) const { return exit_config; }
		int operator()(const Cancelled &) const { return 128 + (env.signal() ? env.signal() : SIGTERM); }
	} exit_code{o, env};
	return std::visit(exit_code, outcome);
}

} // namespace cronlock::cli
