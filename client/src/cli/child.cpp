// child.cpp: spawning and supervising COMMAND.
//
// cronlock forks a keeper, which starts COMMAND with vfork and stays its parent:
//
//   cronlock ── keeper (child subreaper, process group leader, every signal blocked)
//                 └── COMMAND ── its descendants (orphans are re-parented to the keeper)
//
// The keeper sees the whole tree, whatever credentials or sessions its members take:
// when COMMAND exits it gives what is left SIGTERM, SIGKILL `grace` later, and reports
// COMMAND's wait status and how many it stopped; on 'T'/'K' from cronlock (lease lost)
// it does the same to the tree at once; when cronlock dies (its end of the control pipe
// closes, kill -9 included) it SIGKILLs the tree and exits. If the keeper itself is
// killed, COMMAND dies (parent-death signal) and its orphans come to cronlock, a child
// subreaper as well, which kills them.
//
// The fork copies cronlock's page tables (under a millisecond); the keeper is single
// threaded, so it may use vfork, opendir and malloc as any process does.
#include "child.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

extern char **environ;

namespace cronlock::cli {

int exec_failure_status(int err)
{
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

bool is_terminating(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
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

struct KeeperResult {
	int wait_status = 0;
	int stopped = 0;
	int tty_stop = 0;
};

struct KeeperArgs {
	const char *file; // null: not found
	char *const *argv;
	char *const *sh_argv; // /bin/sh FILE ARGS...: for a script without #!
	char *const *envp;
	const sigset_t *child_mask;
	int errpipe;  // gets errno if exec fails
	int ctl;      // read end: commands from cronlock, EOF when it is gone
	int result;   // write end: one KeeperResult
	Millis grace;
	bool take_tty;
};

// Adds the children of every thread of `pid` to `out`.
void children_of(pid_t pid, std::vector<pid_t> &out)
{
	char path[64];
	std::snprintf(path, sizeof path, "/proc/%d/task", static_cast<int>(pid));
	DIR *d = opendir(path);
	if (!d)
		return;
	while (dirent *e = readdir(d)) {
		if (e->d_name[0] == '.')
			continue;
		char file[320];
		std::snprintf(file, sizeof file, "/proc/%d/task/%s/children", static_cast<int>(pid),
					  e->d_name);
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		std::string text;
		char buf[4096];
		ssize_t n;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			text.append(buf, static_cast<std::size_t>(n));
		close(fd);
		const char *p = text.c_str();
		while (*p) {
			char *end;
			long v = std::strtol(p, &end, 10);
			if (end == p)
				break;
			out.push_back(static_cast<pid_t>(v));
			p = end;
		}
	}
	closedir(d);
}

// True for a process that has exited and waits to be reaped.
bool is_zombie(pid_t pid)
{
	char path[64], buf[512];
	std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true; // gone already
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	const char *paren = std::strrchr(buf, ')'); // the name may contain anything
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

// Sends `sig` to every live descendant of the calling process; remembers each in `seen`.
void signal_tree(int sig, std::vector<pid_t> &seen)
{
	std::vector<pid_t> todo;
	children_of(getpid(), todo);
	for (std::size_t i = 0; i < todo.size(); ++i) {
		children_of(todo[i], todo);
		if (is_zombie(todo[i]))
			continue;
		kill(todo[i], sig);
		if (std::find(seen.begin(), seen.end(), todo[i]) == seen.end())
			seen.push_back(todo[i]);
	}
}

std::int64_t boot_ms()
{
	return std::chrono::duration_cast<Millis>(SteadyClock::now().time_since_epoch()).count();
}

// Closes the keeper's copies of cronlock's close-on-exec descriptors (its database
// sockets, signalfds) but the pipes it needs; what COMMAND should inherit stays open.
void close_cloexec_fds(std::initializer_list<int> keep)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	std::vector<int> fds;
	while (dirent *e = readdir(d))
		if (e->d_name[0] != '.')
			fds.push_back(std::atoi(e->d_name));
	const int own = dirfd(d);
	for (int fd : fds) {
		if (fd == own || std::find(keep.begin(), keep.end(), fd) != keep.end())
			continue;
		int flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && (flags & FD_CLOEXEC))
			close(fd);
	}
	closedir(d);
}

[[noreturn]] void keeper_main(const KeeperArgs &a)
{
	close_cloexec_fds({a.errpipe, a.ctl, a.result});
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, nullptr); // group signals are for COMMAND
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (a.take_tty)
		tcsetpgrp(STDIN_FILENO, getpid()); // COMMAND may read the terminal
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int chldfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

	pid_t cmd = vfork();
	if (cmd == 0) {
		sigprocmask(SIG_SETMASK, a.child_mask, nullptr);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int err = ENOENT;
		if (a.file) {
			execve(a.file, a.argv, a.envp);
			err = errno;
			if (err == ENOEXEC) { // no #!: a shell script, as execvp and flock(1) run it
				execve("/bin/sh", a.sh_argv, a.envp);
				err = errno;
			}
		}
		ssize_t ignored = write(a.errpipe, &err, sizeof err);
		(void)ignored;
		_exit(exec_failure_status(err));
	}
	close(a.errpipe);

	KeeperResult res;
	std::vector<pid_t> before, left; // signalled while COMMAND ran / after it exited
	bool cmd_done = cmd < 0, sweeping = false, killing = false, orphaned = false;
	if (cmd < 0)
		res.wait_status = 126 << 8;
	std::int64_t kill_at = 0;
	for (;;) {
		bool none_left = false;
		for (;;) {
			int ws;
			pid_t r = waitpid(-1, &ws, WNOHANG | WUNTRACED);
			if (r < 0 && errno == ECHILD)
				none_left = true;
			if (r <= 0)
				break;
			if (r != cmd)
				continue;
			if (WIFSTOPPED(ws)) {
				int sig = WSTOPSIG(ws);
				// Waiting for a terminal (or a shell's fg) forever with the lease held: end it.
				if (sig == SIGTTIN || sig == SIGTTOU || sig == SIGTSTP) {
					res.tty_stop = sig;
					kill(cmd, SIGKILL);
				}
				continue;
			}
			res.wait_status = ws;
			cmd_done = true;
		}
		if (cmd_done && !sweeping) { // what COMMAND left behind
			sweeping = true;
			signal_tree(killing ? SIGKILL : SIGTERM, left);
			kill_at = boot_ms() + a.grace.count();
			continue; // reap what died at once before waiting
		}
		if (none_left)
			break;
		if (sweeping && !killing && boot_ms() >= kill_at)
			killing = true;
		if (killing)
			signal_tree(SIGKILL, cmd_done ? left : before); // until nothing is left
		int timeout = killing ? 10 : sweeping ? static_cast<int>(std::max<std::int64_t>(0, kill_at - boot_ms())) : -1;
		pollfd p[2] = {{orphaned ? -1 : a.ctl, POLLIN, 0}, {chldfd, POLLIN, 0}};
		int pr = poll(p, 2, timeout);
		if (pr < 0 && errno != EINTR)
			killing = true;
		if (p[1].revents & POLLIN) {
			signalfd_siginfo si;
			while (read(chldfd, &si, sizeof si) > 0) {
			}
		}
		if (!orphaned && (p[0].revents & (POLLIN | POLLHUP))) {
			char c = 0;
			ssize_t n = read(a.ctl, &c, 1);
			if (n == 0 || c == 'K') {
				killing = true; // cronlock is gone, or the lease deadline passed
				orphaned = n == 0;
			} else if (c == 'T') {
				signal_tree(SIGTERM, cmd_done ? left : before);
			}
		}
	}
	res.stopped = static_cast<int>(left.size());
	ssize_t ignored = write(a.result, &res, sizeof res);
	(void)ignored;
	_exit(0);
}

} // namespace

Spawned spawn_child(const std::vector<std::string> &argv,
					const std::vector<std::pair<std::string, std::string>> &extra_env,
					const sigset_t &child_mask, Millis grace)
{
	// Everything the keeper and COMMAND need is built before fork.
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
	std::vector<char *> envp, args, sh_args;
	for (auto &s : env_strings)
		envp.push_back(s.data());
	envp.push_back(nullptr);
	std::vector<std::string> argv_copy = argv;
	const std::optional<std::string> file = resolve_command(argv.at(0));
	for (auto &s : argv_copy)
		args.push_back(s.data());
	args.push_back(nullptr);
	std::string sh = "/bin/sh", script = file.value_or("");
	sh_args.push_back(sh.data());
	sh_args.push_back(script.data());
	sh_args.insert(sh_args.end(), args.begin() + 1, args.end());

	Spawned out;
	int errpipe[2], ctl[2], result[2];
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		out.exec_errno = errno;
		return out;
	}
	if (pipe2(ctl, O_CLOEXEC) != 0 || pipe2(result, O_CLOEXEC) != 0) {
		out.exec_errno = errno;
		close(errpipe[0]);
		close(errpipe[1]);
		return out;
	}
	const bool take_tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	KeeperArgs ka{file ? file->c_str() : nullptr, args.data(), sh_args.data(), envp.data(),
				  &child_mask, errpipe[1], ctl[0], result[1], grace, take_tty};
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		close(errpipe[0]);
		close(ctl[1]);
		close(result[0]);
		keeper_main(ka);
	}
	close(errpipe[1]);
	close(ctl[0]);
	close(result[1]);
	if (pid < 0) {
		out.exec_errno = errno;
		close(errpipe[0]);
		close(ctl[1]);
		close(result[0]);
		return out;
	}
	setpgid(pid, pid); // either of us may run first: both set the group
	out.pid = pid;
	out.gave_tty = take_tty;
	out.ctl = ctl[1];
	out.result = result[0];
	int err = 0;
	ssize_t n;
	do
		n = read(errpipe[0], &err, sizeof err);
	while (n < 0 && errno == EINTR);
	close(errpipe[0]);
	if (n == static_cast<ssize_t>(sizeof err)) { // exec failed: reap the keeper now
		out.exec_errno = err;
		int ws;
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
		}
		close(out.ctl);
		close(out.result);
		out.ctl = out.result = -1;
	}
	return out;
}

namespace {

// Takes the terminal back from COMMAND's group.
void reclaim_terminal()
{
	sigset_t ttou, old;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	pthread_sigmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(STDIN_FILENO, getpgrp());
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void send(int fd, char c)
{
	ssize_t ignored = write(fd, &c, 1);
	(void)ignored;
}

} // namespace

namespace {

void arm(int timer, Millis after)
{
	itimerspec its{};
	its.it_value.tv_sec = static_cast<time_t>(after.count() / 1000);
	its.it_value.tv_nsec = static_cast<long>(after.count() % 1000) * 1000000 + 1;
	timerfd_settime(timer, 0, &its, nullptr);
}

} // namespace

ChildExit supervise(const Spawned &child, int term_fd, int other_fd, std::stop_token lost,
					Millis grace, std::optional<Millis> max_runtime)
{
	const pid_t pid = child.pid;
	ChildExit out;
	int evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int kill_timer = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	int max_timer = -1; // --max-runtime, on the same clock
	if (max_runtime) {
		max_timer = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
		arm(max_timer, *max_runtime);
	}
	// Wakes the poll below when the lease is declared lost. Held in an optional so it
	// is gone before evfd is closed.
	std::optional<std::stop_callback<std::function<void()>>> on_lost;
	on_lost.emplace(lost, [evfd] {
		std::uint64_t one = 1;
		ssize_t ignored = write(evfd, &one, sizeof one);
		(void)ignored;
	});
	int keeper_status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &keeper_status, WNOHANG);
		if (r == pid)
			break;
		pollfd fds[5] = {{term_fd, POLLIN, 0}, {evfd, POLLIN, 0}, {kill_timer, POLLIN, 0},
						 {other_fd, POLLIN, 0}, {max_timer, POLLIN, 0}};
		int pr = poll(fds, 5, -1);
		if (pr < 0 && errno != EINTR)
			break; // cannot happen with valid fds; do not spin
		if (fds[2].revents & POLLIN) { // the lease deadline: nothing of the tree may live on
			std::uint64_t v;
			ssize_t ignored = read(kill_timer, &v, sizeof v);
			(void)ignored;
			send(child.ctl, 'K');
		}
		for (int k : {0, 3}) {
			if (!(fds[k].revents & POLLIN))
				continue;
			signalfd_siginfo si;
			while (read(fds[k].fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
				int sig = static_cast<int>(si.ssi_signo);
				if (sig == SIGCHLD)
					continue;
				kill(-pid, sig);
				if (is_terminating(sig))
					out.forwarded_signal = sig;
			}
		}
		if ((fds[1].revents & POLLIN) && !out.killed_for_lease) {
			std::uint64_t v;
			ssize_t ignored = read(evfd, &v, sizeof v);
			(void)ignored;
			out.killed_for_lease = true;
			if (!out.max_runtime) { // else stopping already, SIGKILL armed
				send(child.ctl, 'T');
				arm(kill_timer, grace);
			}
		}
		if (fds[4].revents & POLLIN) {
			std::uint64_t v;
			ssize_t ignored = read(max_timer, &v, sizeof v);
			(void)ignored;
			if (!out.killed_for_lease) { // a lost lease came first: that decides
				out.max_runtime = true;
				send(child.ctl, 'T');
				arm(kill_timer, grace);
			}
		}
	}
	KeeperResult res;
	ssize_t n = read(child.result, &res, sizeof res);
	if (n == static_cast<ssize_t>(sizeof res)) {
		out.wait_status = res.wait_status;
		out.stopped = res.stopped;
		out.tty_stop = res.tty_stop;
	} else {
		// The keeper itself was killed: COMMAND died with it (parent-death signal) and
		// its orphans came to us, a subreaper too. Kill them (for at most 5 s).
		out.wait_status = keeper_status;
		std::vector<pid_t> seen;
		for (int round = 0; round < 500; ++round) {
			signal_tree(SIGKILL, seen);
			pid_t r;
			while ((r = waitpid(-1, nullptr, WNOHANG)) > 0) {
			}
			if (r < 0 && errno == ECHILD)
				break;
			poll(nullptr, 0, 10);
		}
		out.stopped = static_cast<int>(seen.size());
	}
	if (child.gave_tty)
		reclaim_terminal();
	close(child.ctl);
	close(child.result);
	on_lost.reset();
	close(evfd);
	close(kill_timer);
	if (max_timer >= 0)
		close(max_timer);
	return out;
}

} // namespace cronlock::cli
