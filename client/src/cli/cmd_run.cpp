// cmd_run.cpp: `cronlock run`: Client::run with COMMAND as the job.
//
// Signals: SIGCHLD, SIGTERM, SIGINT, SIGHUP and SIGQUIT are blocked before any thread
// starts (threads inherit the mask) and read from one signalfd: during the acquisition a
// terminating signal interrupts the backoff sleep; while COMMAND runs it is forwarded to
// COMMAND's process group and the run is released as cancelled.
#include <poll.h>
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

// The system Env, except that sleeping watches the signalfd: a terminating signal ends
// the sleep and the acquisition.
class SignalEnv : public Env {
  public:
	explicit SignalEnv(int sigfd) : sigfd_(sigfd) {}
	std::chrono::steady_clock::time_point now() override { return system_env().now(); }
	std::uint64_t random_below(std::uint64_t n) override { return system_env().random_below(n); }
	bool sleep_for(Millis d) override
	{
		auto until = std::chrono::steady_clock::now() + d;
		for (;;) {
			auto left = std::chrono::ceil<Millis>(until - std::chrono::steady_clock::now()).count();
			if (left <= 0)
				return true;
			pollfd p{sigfd_, POLLIN, 0};
			int r = poll(&p, 1, left > INT_MAX ? INT_MAX : static_cast<int>(left));
			if (r < 0 && errno != EINTR)
				return true;
			if (r > 0) {
				signalfd_siginfo si;
				while (read(sigfd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si))
					if (si.ssi_signo != SIGCHLD)
						signal_ = static_cast<int>(si.ssi_signo);
				if (signal_)
					return false;
			}
		}
	}
	int signal() const { return signal_; }

  private:
	int sigfd_;
	int signal_ = 0;
};

std::string signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

} // namespace

int cmd_run(const Options &o)
{
	sigset_t set;
	sigemptyset(&set);
	for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT})
		sigaddset(&set, s);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		std::fprintf(stderr, "cronlock: signalfd: %s\n", std::strerror(errno));
		return exit_config;
	}
	SignalEnv env(sigfd);

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

	auto job = [&](const Lease &lease, std::stop_token lost) -> JobResult {
		Spawned child = spawn_child(o.argv, {{"CRONLOCK_JOB", lease.job()},
											 {"CRONLOCK_RUN_ID", std::to_string(lease.run_id())},
											 {"CRONLOCK_TOKEN", std::to_string(lease.token())},
											 {"CRONLOCK_INSTANCE", lease.instance()}});
		if (child.exec_errno)
			return JobResult{RunStatus::failed, exec_failure_status(child.exec_errno),
							 "cannot execute " + o.argv.front() + ": " +
								 std::strerror(child.exec_errno)};
		ChildExit ex = supervise(child.pid, sigfd, lost, grace, env.signal());
		JobResult r;
		r.exit_code = exit_status_of(ex.wait_status);
		if (ex.forwarded_signal) {
			r.status = RunStatus::cancelled;
			r.message = "cancelled by " + signal_name(ex.forwarded_signal);
		} else if (r.exit_code != 0) {
			r.status = RunStatus::failed;
			r.message = WIFSIGNALED(ex.wait_status)
							? "killed by " + signal_name(WTERMSIG(ex.wait_status))
							: "exit status " + std::to_string(r.exit_code);
		}
		return r;
	};

	Outcome outcome = client.run(o.job, job);
	close(sigfd);
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
