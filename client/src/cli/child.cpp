// child.cpp: spawning and supervising COMMAND.
//
// The child is started with clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: it
// borrows cronlock's memory on a stack of its own until exec, so no page tables are
// copied (fork cost 0.6-0.9 ms of every run). Until exec it only makes system calls
// and writes nothing but its own stack: the heartbeat thread keeps running beside it.
#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>

extern char **environ;

namespace cronlock::cli {

int exec_failure_status(int err)
{
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

// The file a shell would run for `name`: a name with a slash as is; otherwise the
// first executable regular file on PATH, else the first one found at all (exec then
// fails with EACCES: 126). Unsearchable PATH entries are skipped, as shells do,
// instead of turning "not found" (127) into "permission denied".
static std::optional<std::string> resolve_command(const std::string &name)
{
	if (name.find('/') != std::string::npos)
		return name;
	const char *env_path = std::getenv("PATH");
	std::string path = env_path ? env_path : "/usr/local/bin:/usr/bin:/bin";
	std::optional<std::string> not_executable;
	size_t start = 0;
	while (start <= path.size()) {
		size_t end = path.find(':', start);
		if (end == std::string::npos)
			end = path.size();
		std::string dir = path.substr(start, end - start);
		std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
		struct stat st;
		if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(candidate.c_str(), X_OK) == 0)
				return candidate;
			if (!not_executable)
				not_executable = candidate;
		}
		start = end + 1;
	}
	return not_executable;
}

int exit_status_of(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return 1;
}

namespace {

struct ChildStart {
	const char *file; // null: not found
	char *const *argv;
	char *const *envp;
	int errpipe;	  // gets errno if exec fails
	pid_t parent;
};

// Not instrumented under ASan: it runs on a stack the sanitizer does not know.
__attribute__((no_sanitize("address", "undefined"))) int start_child(void *arg)
{
	const auto *c = static_cast<const ChildStart *>(arg);
	setpgid(0, 0);
	// Die with cronlock. The signal is tied to the thread that cloned us, which is the
	// one that waits for us. If cronlock died before prctl, we were re-parented: exit.
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != c->parent)
		_exit(exec_failure_status(0));
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, nullptr);
	int err = ENOENT;
	if (c->file) {
		execve(c->file, c->argv, c->envp);
		err = errno;
	}
	ssize_t ignored = write(c->errpipe, &err, sizeof err);
	(void)ignored;
	_exit(exec_failure_status(err));
}

} // namespace

Spawned spawn_child(const std::vector<std::string> &argv,
					const std::vector<std::pair<std::string, std::string>> &extra_env)
{
	// Everything the child needs is built before clone.
	std::vector<std::string> env_strings;
	for (char **e = environ; *e; ++e) {
		bool replaced = false;
		for (const auto &[k, v] : extra_env)
			if (std::strncmp(*e, k.c_str(), k.size()) == 0 && (*e)[k.size()] == '=')
				replaced = true;
		if (!replaced)
			env_strings.emplace_back(*e);
	}
	for (const auto &[k, v] : extra_env)
		env_strings.push_back(k + "=" + v);
	std::vector<char *> envp, args;
	for (auto &s : env_strings)
		envp.push_back(s.data());
	envp.push_back(nullptr);
	std::vector<std::string> argv_copy = argv;
	const std::optional<std::string> file = resolve_command(argv.at(0));
	for (auto &s : argv_copy)
		args.push_back(s.data());
	args.push_back(nullptr);

	Spawned out;
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		out.exec_errno = errno;
		return out;
	}
	ChildStart start{file ? file->c_str() : nullptr, args.data(), envp.data(), pipefd[1],
					 getpid()};
	// The calling thread is suspended until the child execs or exits: the child's stack
	// can live in this frame.
	alignas(64) char child_stack[64 * 1024];
	pid_t pid = clone(start_child, child_stack + sizeof child_stack,
					  CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
	if (pid < 0) {
		out.exec_errno = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return out;
	}
	// CLONE_VFORK: we run again only once the child has exec'd or exited, so its
	// process group (set by the child) exists before we could ever signal it.
	close(pipefd[1]);
	out.pid = pid;
	int err = 0;
	ssize_t n;
	do
		n = read(pipefd[0], &err, sizeof err);
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == static_cast<ssize_t>(sizeof err)) { // exec failed: reap the child now
		out.exec_errno = err;
		int ws;
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
		}
	}
	return out;
}

ChildExit supervise(pid_t pid, int sigfd, std::stop_token lost, Millis grace, int pending_signal)
{
	using Clock = std::chrono::steady_clock;
	ChildExit out;
	int evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	// Wakes the poll below when the heartbeat thread declares the lease lost. Held in an
	// optional so it is gone before evfd is closed.
	std::optional<std::stop_callback<std::function<void()>>> on_lost;
	on_lost.emplace(lost, [evfd] {
		std::uint64_t one = 1;
		ssize_t ignored = write(evfd, &one, sizeof one);
		(void)ignored;
	});
	if (pending_signal) {
		kill(-pid, pending_signal);
		out.forwarded_signal = pending_signal;
	}
	std::optional<Clock::time_point> kill_at;
	bool term_sent = false;
	for (;;) {
		int ws = 0;
		pid_t r = waitpid(pid, &ws, WNOHANG);
		if (r == pid) {
			out.wait_status = ws;
			break;
		}
		int timeout = -1;
		if (kill_at) {
			auto left = std::chrono::ceil<std::chrono::milliseconds>(*kill_at - Clock::now()).count();
			timeout = left < 0 ? 0 : left > INT_MAX ? INT_MAX : static_cast<int>(left);
		}
		pollfd fds[2] = {{sigfd, POLLIN, 0}, {evfd, POLLIN, 0}};
		int pr = poll(fds, 2, timeout);
		if (pr < 0 && errno != EINTR)
			break; // cannot happen with valid fds; do not spin
		if (kill_at && Clock::now() >= *kill_at) {
			kill(-pid, SIGKILL);
			kill_at.reset();
		}
		if (fds[0].revents & POLLIN) {
			signalfd_siginfo si;
			while (read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				kill(-pid, static_cast<int>(si.ssi_signo));
				out.forwarded_signal = static_cast<int>(si.ssi_signo);
			}
		}
		if ((fds[1].revents & POLLIN) && !term_sent) {
			std::uint64_t v;
			ssize_t ignored = read(evfd, &v, sizeof v);
			(void)ignored;
			kill(-pid, SIGTERM);
			term_sent = true;
			out.killed_for_lease = true;
			kill_at = Clock::now() + grace;
		}
	}
	if (out.killed_for_lease)
		kill(-pid, SIGKILL); // no member of the group outlives the lease
	on_lost.reset();
	close(evfd);
	return out;
}

} // namespace cronlock::cli
