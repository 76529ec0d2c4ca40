// run_state.cpp: the state file of --alert-after, --metrics-dir, the host's time zone.
#include "run_state.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "cronlock/uuid.hpp"

namespace cronlock::cli {
namespace {

// mkdir -p, mode 0755 for every directory it creates (the umask applies).
bool make_dirs(const std::string &dir)
{
	std::string path;
	std::size_t i = 0;
	while (i <= dir.size()) {
		std::size_t j = dir.find('/', i);
		if (j == std::string::npos)
			j = dir.size();
		path = dir.substr(0, j);
		if (!path.empty() && mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
			return false;
		i = j + 1;
	}
	struct stat st;
	return stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The directory, created when missing and held under an exclusive flock while alive.
class DirLock {
  public:
	explicit DirLock(const std::string &dir)
	{
		if (!make_dirs(dir)) {
			error = "cannot create " + dir + ": " + std::strerror(errno);
			return;
		}
		fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd_ < 0 || flock(fd_, LOCK_EX) != 0)
			error = "cannot lock " + dir + ": " + std::strerror(errno);
	}
	~DirLock()
	{
		if (fd_ >= 0)
			close(fd_); // releases the lock
	}
	std::string error;

  private:
	int fd_ = -1;
};

bool read_file(const std::string &path, std::string &out)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		out.append(buf, static_cast<std::size_t>(n));
	close(fd);
	return n == 0;
}

// Writes `text` to `path` through a temporary file in the same directory and rename(2).
std::string replace_file(const std::string &path, const std::string &text, mode_t mode)
{
	std::string tmp = path + ".tmp." + std::to_string(getpid());
	int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return "cannot write " + tmp + ": " + std::strerror(errno);
	const char *p = text.data();
	std::size_t left = text.size();
	bool ok = true;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = false;
			break;
		}
		p += n;
		left -= static_cast<std::size_t>(n);
	}
	int err = errno;
	if (ok && fsync(fd) != 0) {
		ok = false;
		err = errno;
	}
	if (close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	if (ok && rename(tmp.c_str(), path.c_str()) != 0) {
		ok = false;
		err = errno;
	}
	if (!ok) {
		unlink(tmp.c_str());
		return "cannot write " + path + ": " + std::strerror(err);
	}
	return "";
}

std::string label_value(const std::string &v)
{
	std::string out;
	for (char c : v) {
		if (c == '\\')
			out += "\\\\";
		else if (c == '"')
			out += "\\\"";
		else if (c == '\n')
			out += "\\n";
		else
			out += c;
	}
	return out;
}

const char *const outcomes[] = {"succeeded", "failed", "cancelled", "lost", "busy", "too_soon",
								"paused", "db_unavailable", "permanent_error"};

// The value of the first sample line that starts with `prefix` (name and labels).
std::optional<double> sample(const std::string &text, const std::string &prefix)
{
	std::size_t pos = 0;
	while (pos < text.size()) {
		std::size_t end = text.find('\n', pos);
		if (end == std::string::npos)
			end = text.size();
		if (text.compare(pos, prefix.size(), prefix) == 0) {
			std::string v = text.substr(pos + prefix.size(), end - pos - prefix.size());
			char *e = nullptr;
			double d = std::strtod(v.c_str(), &e);
			if (e != v.c_str())
				return d;
		}
		pos = end + 1;
	}
	return std::nullopt;
}

std::string number(double v)
{
	char buf[64];
	std::snprintf(buf, sizeof buf, "%.15g", v);
	return buf;
}

} // namespace

std::string state_dir(const Getenv &getenv, bool root)
{
	if (const char *d = getenv("CRONLOCK_STATE_DIR"); d && *d)
		return d;
	if (root)
		return "/var/lib/cronlock";
	if (const char *x = getenv("XDG_STATE_HOME"); x && *x == '/')
		return std::string(x) + "/cronlock";
	const char *home = getenv("HOME");
	std::string h = home && *home ? home : "";
	if (h.empty())
		if (passwd *pw = getpwuid(getuid()); pw && pw->pw_dir)
			h = pw->pw_dir;
	return h + "/.local/state/cronlock";
}

std::string job_file_stem(const std::string &job)
{
	std::string out;
	for (char c : job.substr(0, 64)) {
		auto u = static_cast<unsigned char>(c);
		out += (std::isalnum(u) || c == '-' || c == '_') ? c : '_';
	}
	char hash[20];
	std::snprintf(hash, sizeof hash, ".%016" PRIx64, stable_hash(job));
	return out + hash;
}

CountResult update_unavailable_count(const std::string &dir, const std::string &job, bool bump)
{
	CountResult r;
	const std::string path = dir + "/" + job_file_stem(job) + ".unavailable";
	if (!bump && access(path.c_str(), F_OK) != 0)
		return r; // nothing counted: a normal run writes nothing
	DirLock lock(dir);
	if (!lock.error.empty()) {
		r.warning = lock.error;
		return r;
	}
	std::string text;
	long before = 0;
	if (read_file(path, text)) {
		// "consecutive_unavailable N\n"
		char *end = nullptr;
		const char *key = "consecutive_unavailable ";
		if (text.rfind(key, 0) == 0) {
			errno = 0;
			before = std::strtol(text.c_str() + std::strlen(key), &end, 10);
		}
		if (!end || errno || before < 0 || (*end != '\n' && *end != '\0')) {
			r.warning = "state file " + path + " is corrupt; counting from zero";
			before = 0;
		}
	} else if (errno != ENOENT) {
		r.warning = "cannot read state file " + path + ": " + std::strerror(errno);
	}
	r.count = bump ? before + 1 : 0;
	if (!bump && before == 0 && r.warning.empty())
		return r;
	if (auto w = replace_file(path, "consecutive_unavailable " + std::to_string(r.count) + "\n", 0644);
		!w.empty())
		r.warning = w;
	return r;
}

std::string run_metrics_text(const std::string &job, const std::string &instance,
							 const MetricsOutcome &m, std::int64_t now_ms,
							 const std::string &previous)
{
	const std::string labels = "job=\"" + label_value(job) + "\",instance=\"" + label_value(instance) + "\"";
	const double now = static_cast<double>(now_ms) / 1000.0;
	std::string out;
	auto family = [&](const char *name, const char *type, const char *help) {
		out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
	};
	family("cronlock_run_last_attempt_timestamp_seconds", "gauge",
		   "When cronlock run last tried the job on this host.");
	out += "cronlock_run_last_attempt_timestamp_seconds{" + labels + "} " + number(now) + "\n";

	std::optional<double> last_success =
		sample(previous, "cronlock_run_last_success_timestamp_seconds{" + labels + "} ");
	if (m.outcome == "succeeded")
		last_success = now;
	family("cronlock_run_last_success_timestamp_seconds", "gauge",
		   "When COMMAND last succeeded on this host (0: never seen).");
	out += "cronlock_run_last_success_timestamp_seconds{" + labels + "} " +
		   number(last_success.value_or(0)) + "\n";

	family("cronlock_run_last_outcome", "gauge",
		   "1 for the outcome of this host's last attempt, 0 for the others.");
	for (const char *o : outcomes)
		out += "cronlock_run_last_outcome{" + labels + ",outcome=\"" + o + "\"} " +
			   (m.outcome == o ? "1" : "0") + "\n";

	family("cronlock_run_last_exit_code", "gauge", "Exit status of this host's last attempt.");
	out += "cronlock_run_last_exit_code{" + labels + "} " + std::to_string(m.exit_code) + "\n";

	if (m.duration_s >= 0) {
		family("cronlock_run_last_duration_seconds", "gauge",
			   "How long COMMAND ran in this host's last attempt that ran it.");
		out += "cronlock_run_last_duration_seconds{" + labels + "} " + number(m.duration_s) + "\n";
	} else if (auto d = sample(previous, "cronlock_run_last_duration_seconds{" + labels + "} ")) {
		family("cronlock_run_last_duration_seconds", "gauge",
			   "How long COMMAND ran in this host's last attempt that ran it.");
		out += "cronlock_run_last_duration_seconds{" + labels + "} " + number(*d) + "\n";
	}
	if (m.consecutive_unavailable >= 0) {
		family("cronlock_run_consecutive_unavailable", "gauge",
			   "Consecutive attempts on this host that found the database unreachable.");
		out += "cronlock_run_consecutive_unavailable{" + labels + "} " +
			   std::to_string(m.consecutive_unavailable) + "\n";
	}
	family("cronlock_run_attempts_total", "counter",
		   "Attempts on this host by outcome, including skips the database never saw.");
	for (const char *o : outcomes) {
		std::string key = "cronlock_run_attempts_total{" + labels + ",outcome=\"" + o + "\"} ";
		double v = sample(previous, key).value_or(0) + (m.outcome == o ? 1 : 0);
		out += key + number(v) + "\n";
	}
	return out;
}

std::string write_run_metrics(const std::string &dir, const std::string &job,
							  const std::string &instance, const MetricsOutcome &m,
							  std::int64_t now_ms)
{
	DirLock lock(dir);
	if (!lock.error.empty())
		return lock.error;
	// One file per (job, instance): several instances may share a directory.
	const std::string path = dir + "/cronlock_run_" + job_file_stem(job + "\n" + instance) + ".prom";
	std::string previous;
	read_file(path, previous);
	return replace_file(path, run_metrics_text(job, instance, m, now_ms, previous), 0644);
}

std::optional<std::string> host_timezone(const Getenv &getenv)
{
	if (const char *tz = getenv("TZ"); tz && *tz) {
		std::string v = tz[0] == ':' ? tz + 1 : tz;
		auto at = v.find("zoneinfo/");
		if (at != std::string::npos)
			v = v.substr(at + 9);
		if (!v.empty())
			return v;
	}
	std::string text;
	if (read_file("/etc/timezone", text)) {
		auto end = text.find_first_of(" \t\r\n");
		text = text.substr(0, end);
		if (!text.empty())
			return text;
	}
	char buf[4096];
	ssize_t n = readlink("/etc/localtime", buf, sizeof buf - 1);
	if (n > 0) {
		std::string link(buf, static_cast<std::size_t>(n));
		auto at = link.find("zoneinfo/");
		if (at != std::string::npos && at + 9 < link.size())
			return link.substr(at + 9);
	}
	return std::nullopt;
}

} // namespace cronlock::cli
