// run_log.hpp: where the lines of `cronlock run` go (--log-to), which of them are alerts,
// and --notify.
//
// Destinations: stderr (everything), syslog (ident cronlock, our own datagram to the
// socket, default /dev/log, $CRONLOCK_SYSLOG_SOCKET to point elsewhere) or a file
// (appended). With syslog or a file, and stderr not a terminal, an alert also goes to
// stderr, preceded by the run's earlier lines; after the first alert every later line
// of the run follows it there, so what cron mails explains itself.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "cronlock/duration.hpp"
#include "cronlock/log.hpp"

namespace cronlock::cli {

enum class LogDest { stderr_all, syslog, file };

// What --log-to WHERE means here: auto picks stderr on a terminal, else syslog when its
// socket is there, else stderr. `stderr_tty` and `socket_path` are passed in for tests.
LogDest choose_log_dest(const std::string &where, bool stderr_tty, const std::string &socket_path);

// The syslog socket: $CRONLOCK_SYSLOG_SOCKET, else /dev/log.
std::string syslog_socket_path();

// "Dec  2 10:25:00"-style RFC 3164 datagram for one line at `level`.
std::string syslog_datagram(int severity, long pid, std::string_view line);

class RunLog {
  public:
	struct Settings {
		std::string where = "auto"; // --log-to
		std::string notify;         // --notify CMD ("" none)
		std::string job, instance;
		std::vector<std::pair<std::string, std::string>> notify_env; // replaces same-named
	};
	explicit RunLog(Settings s);
	~RunLog();
	RunLog(const RunLog &) = delete;
	RunLog &operator=(const RunLog &) = delete;

	// A message for a destination that could not be opened (then stderr is used), or "".
	const std::string &open_error() const { return open_error_; }
	LogDest dest() const { return dest_; }

	// The Logger sink: routes `line`, and notifies when it is an alert.
	void line(Level level, std::string_view tag, std::initializer_list<Field> fields,
			  std::string_view text);

	// Facts only cmd_run knows, for naming the alert of a failed run's CRON_DONE.
	std::atomic<bool> max_runtime_hit{false};
	std::atomic<int> exec_errno{0};

	// The alert kind of a line, or "" (not an alert). Public for the unit tests.
	std::string alert_kind(std::string_view tag, std::initializer_list<Field> fields) const;

	int alerts() const { return alerts_; }
	// Waits for the notify commands still running, each at most `bound` after its start,
	// then kills what is left (process group SIGKILL).
	void finish_notify(Millis bound);

  private:
	void to_stderr(std::string_view s);
	void to_dest(int severity, std::string_view s);
	void notify(const std::string &kind, std::string_view tag, std::initializer_list<Field> fields,
				std::string_view text);

	Settings s_;
	LogDest dest_;
	bool alerts_to_stderr_ = false;
	int fd_ = -1;      // the file, or the syslog socket
	bool stream_ = false; // syslog socket is SOCK_STREAM
	std::string open_error_;
	std::string held_;   // earlier lines, not yet on stderr
	bool alerted_ = false;
	int alerts_ = 0;
	struct Notified {
		pid_t pid;
		SteadyClock::time_point started;
	};
	std::vector<Notified> notified_;
};

} // namespace cronlock::cli
