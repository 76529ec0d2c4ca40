// run_log.cpp: --log-to destinations, alerts and --notify (see run_log.hpp).
#include "run_log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>

extern char **environ;

namespace cronlock::cli {
namespace {

constexpr std::size_t held_limit = 64 * 1024; // earlier lines kept for an alert

std::string_view field(std::initializer_list<Field> fields, std::string_view key)
{
	for (const auto &f : fields)
		if (f.key == key)
			if (auto s = std::get_if<std::string_view>(&f.value))
				return *s;
	return {};
}

bool has_field(std::initializer_list<Field> fields, std::string_view key)
{
	for (const auto &f : fields)
		if (f.key == key && !std::holds_alternative<std::monostate>(f.value))
			return true;
	return false;
}

void write_all(int fd, std::string_view s)
{
	while (!s.empty()) {
		ssize_t n = ::write(fd, s.data(), s.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s.remove_prefix(static_cast<std::size_t>(n));
	}
}

// Connects to the syslog socket: datagram first, stream if that is what listens.
int connect_syslog(const std::string &path, bool &stream)
{
	sockaddr_un sa{};
	if (path.size() >= sizeof sa.sun_path)
		return -1;
	sa.sun_family = AF_UNIX;
	std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
	for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
		int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0) {
			stream = type == SOCK_STREAM;
			return fd;
		}
		int err = errno;
		close(fd);
		if (err != EPROTOTYPE)
			return -1;
	}
	return -1;
}

int severity_of(Level level)
{
	switch (level) {
	case Level::info: return 6;    // LOG_INFO
	case Level::warning: return 4; // LOG_WARNING
	case Level::error: return 3;   // LOG_ERR
	}
	return 6;
}

std::string env_key(std::string_view key)
{
	std::string out = "CRONLOCK_EVENT_";
	for (char c : key)
		out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
	return out;
}

std::string value_text(const Field::Value &v)
{
	if (auto s = std::get_if<std::string_view>(&v))
		return std::string(*s);
	if (auto i = std::get_if<std::int64_t>(&v))
		return std::to_string(*i);
	if (auto b = std::get_if<bool>(&v))
		return *b ? "true" : "false";
	return "";
}

} // namespace

std::string syslog_socket_path()
{
	const char *p = std::getenv("CRONLOCK_SYSLOG_SOCKET");
	return p && *p ? p : "/dev/log";
}

LogDest choose_log_dest(const std::string &where, bool stderr_tty, const std::string &socket_path)
{
	if (where == "stderr")
		return LogDest::stderr_all;
	if (where == "syslog")
		return LogDest::syslog;
	if (where != "auto")
		return LogDest::file;
	if (stderr_tty)
		return LogDest::stderr_all;
	struct stat st;
	if (stat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
		return LogDest::syslog;
	return LogDest::stderr_all; // a container: nobody reads syslog there
}

std::string syslog_datagram(int severity, long pid, std::string_view line)
{
	if (!line.empty() && line.back() == '\n')
		line.remove_suffix(1);
	std::time_t t = std::time(nullptr);
	std::tm tm{};
	localtime_r(&t, &tm);
	char stamp[32];
	std::strftime(stamp, sizeof stamp, "%b %e %T", &tm);
	// Facility user (1): the job's own messages, as logger(1) sends them.
	return "<" + std::to_string(8 + severity) + ">" + stamp + " cronlock[" + std::to_string(pid) +
		   "]: " + std::string(line);
}

RunLog::RunLog(Settings s) : s_(std::move(s))
{
	const bool tty = isatty(STDERR_FILENO) == 1;
	const std::string sock = syslog_socket_path();
	dest_ = choose_log_dest(s_.where, tty, sock);
	if (dest_ == LogDest::syslog) {
		fd_ = connect_syslog(sock, stream_);
		if (fd_ < 0) {
			open_error_ = "cannot reach the syslog socket " + sock + ": " + std::strerror(errno) +
						  "; logging to stderr";
			dest_ = LogDest::stderr_all;
		}
	} else if (dest_ == LogDest::file) {
		fd_ = open(s_.where.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd_ < 0) {
			open_error_ = "cannot open log file " + s_.where + ": " + std::strerror(errno) +
						  "; logging to stderr";
			dest_ = LogDest::stderr_all;
		}
	}
	alerts_to_stderr_ = dest_ != LogDest::stderr_all && !tty;
}

RunLog::~RunLog()
{
	if (fd_ >= 0)
		close(fd_);
}

std::string RunLog::alert_kind(std::string_view tag, std::initializer_list<Field> fields) const
{
	if (tag == "CRON_LOST")
		return "lease_lost";
	if (tag == "CRON_ALERT")
		return std::string(field(fields, "event"));
	if (tag == "CRON_SKIP" && field(fields, "reason") == "PERMANENT_ERROR")
		return "permanent_error";
	if (tag == "CRON_RUN" && (field(fields, "reason") == "took_over" || has_field(fields, "took_over")))
		return "took_over";
	if (tag == "CRON_DONE" && field(fields, "status") == "failed") {
		if (max_runtime_hit)
			return "max_runtime";
		if (int e = exec_errno.load())
			return e == ENOENT || e == ENOTDIR ? "command_not_found" : "command_not_executable";
		return "command_failed";
	}
	return "";
}

void RunLog::to_stderr(std::string_view s)
{
	write_all(STDERR_FILENO, s);
}

void RunLog::to_dest(int severity, std::string_view s)
{
	if (dest_ == LogDest::stderr_all || fd_ < 0) {
		to_stderr(s);
		return;
	}
	if (dest_ == LogDest::file) {
		write_all(fd_, s);
		return;
	}
	std::string d = syslog_datagram(severity, static_cast<long>(getpid()), s);
	if (stream_)
		d.push_back('\0'); // as glibc frames it on a stream socket
	ssize_t n;
	do
		n = send(fd_, d.data(), d.size(), MSG_NOSIGNAL | (stream_ ? 0 : MSG_DONTWAIT));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		// syslog went away (or is full): the rest of the run goes to stderr, this line too.
		close(fd_);
		fd_ = -1;
		dest_ = LogDest::stderr_all;
		if (alerts_to_stderr_ && !held_.empty())
			to_stderr(held_);
		held_.clear();
		alerts_to_stderr_ = false;
		to_stderr(s);
	}
}

void RunLog::line(Level level, std::string_view tag, std::initializer_list<Field> fields,
				  std::string_view text)
{
	std::string kind = alert_kind(tag, fields);
	const bool alert = !kind.empty();
	to_dest(alert ? 3 : severity_of(level), text);
	if (alerts_to_stderr_) {
		if (alert || alerted_) {
			if (!held_.empty())
				to_stderr(held_);
			held_.clear();
			to_stderr(text);
		} else {
			held_.append(text);
			if (held_.size() > held_limit) { // keep the newest lines
				auto cut = held_.find('\n', held_.size() - held_limit);
				held_.erase(0, cut == std::string::npos ? held_.size() : cut + 1);
			}
		}
	}
	if (alert) {
		alerted_ = true;
		++alerts_;
		if (!s_.notify.empty())
			notify(kind, tag, fields, text);
	}
}

void RunLog::notify(const std::string &kind, std::string_view tag,
					std::initializer_list<Field> fields, std::string_view text)
{
	std::vector<std::pair<std::string, std::string>> vars = s_.notify_env;
	if (!text.empty() && text.back() == '\n')
		text.remove_suffix(1);
	vars.emplace_back("CRONLOCK_EVENT", kind);
	vars.emplace_back("CRONLOCK_EVENT_TAG", std::string(tag));
	vars.emplace_back("CRONLOCK_EVENT_LINE", std::string(text));
	vars.emplace_back("CRONLOCK_EVENT_JOB", s_.job);
	vars.emplace_back("CRONLOCK_EVENT_INSTANCE", s_.instance);
	for (const auto &f : fields)
		if (!std::holds_alternative<std::monostate>(f.value) && f.key != "event")
			vars.emplace_back(env_key(f.key), value_text(f.value));

	std::vector<std::string> env_strings;
	for (char **e = environ; *e; ++e) {
		bool replaced = false;
		for (const auto &[k, v] : vars)
			if (std::strncmp(*e, k.c_str(), k.size()) == 0 && (*e)[k.size()] == '=')
				replaced = true;
		if (!replaced)
			env_strings.emplace_back(*e);
	}
	for (const auto &[k, v] : vars)
		env_strings.push_back(k + "=" + v);
	std::vector<char *> envp;
	for (auto &s : env_strings)
		envp.push_back(s.data());
	envp.push_back(nullptr);
	std::string sh = "/bin/sh", dash_c = "-c", cmd = s_.notify;
	char *argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&attr);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigfillset(&dfl);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0); // its own group: killed whole if it overruns
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
										POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	int err = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp.data());
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err == 0)
		notified_.push_back({pid, SteadyClock::now()});
	else
		to_stderr("cronlock: --notify: cannot start /bin/sh: " + std::string(std::strerror(err)) + "\n");
}

void RunLog::finish_notify(Millis bound)
{
	for (const auto &n : notified_) {
		const auto until = n.started + bound;
		for (;;) {
			int ws;
			pid_t r = waitpid(n.pid, &ws, WNOHANG);
			if (r == n.pid || (r < 0 && errno != EINTR))
				break;
			if (SteadyClock::now() >= until) {
				kill(-n.pid, SIGKILL);
				while (waitpid(n.pid, &ws, 0) < 0 && errno == EINTR) {
				}
				to_stderr("cronlock: --notify command still running after " +
						  std::to_string(bound.count() / 1000) + "s: killed\n");
				break;
			}
			// SIGCHLD is blocked and read elsewhere: wait on a pidfd (Linux 5.3).
			auto left = std::chrono::ceil<Millis>(until - SteadyClock::now()).count();
			int pfd = static_cast<int>(syscall(SYS_pidfd_open, n.pid, 0));
			pollfd p{pfd, POLLIN, 0};
			poll(&p, pfd >= 0 ? 1 : 0, pfd >= 0 ? static_cast<int>(left) : 20);
			if (pfd >= 0)
				close(pfd);
		}
	}
	notified_.clear();
}

} // namespace cronlock::cli
