// child.cpp: spawning and supervising COMMAND.
//
// Between fork and exec the child only makes async-signal-safe calls: the process has
// other threads (heartbeat, cancel) whose locks may be held at fork time.
#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
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

Spawned spawn_child(const std::vector<std::string> &argv,
					const std::vector<std::pair<std::string, std::string>> &extra_env)
{
	// Everything the child needs is built before fork.
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
	const pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		out.exec_errno = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return out;
	}
	if (pid == 0) {
		close(pipefd[0]);
		setpgid(0, 0);
		// Die with cronlock. The signal is tied to the forking thread, which is the one
		// that waits for us. If cronlock died before prctl, we were re-parented: exit.
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(exec_failure_status(0));
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, nullptr);
		if (file)
			execve(file->c_str(), args.data(), envp.data());
		int err = file ? errno : ENOENT;
		ssize_t ignored = write(pipefd[1], &err, sizeof err);
		(void)ignored;
		_exit(exec_failure_status(err));
	}
	close(pipefd[1]);
	setpgid(pid, pid); // also here, so the group exists before we ever signal it
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
