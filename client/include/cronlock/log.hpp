// cronlock/log.hpp: one line per event on stderr, logfmt or JSON.
//
// Each line carries tag, ts, job, instance and pid, then the event's fields. A line is
// written with a single write(2) so lines of concurrent runners never interleave. A sink,
// when set, gets every line instead (the cronlock command routes them: syslog, a file,
// alerts to stderr).
#pragma once

#include "cronlock/export.hpp"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

namespace cronlock {

enum class LogFormat { logfmt, json };
enum class Level { info, warning, error };

struct Field {
	using Value = std::variant<std::monostate, std::string_view, std::int64_t, bool>;
	Field(std::string_view k, std::monostate) : key(k), value(std::monostate{}) {}
	Field(std::string_view k, std::string_view v) : key(k), value(v) {}
	Field(std::string_view k, const char *v) : key(k), value(std::string_view(v)) {}
	Field(std::string_view k, const std::string &v) : key(k), value(std::string_view(v)) {}
	Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
	Field(std::string_view k, int v) : key(k), value(std::int64_t{v}) {}
	Field(std::string_view k, bool v) : key(k), value(v) {}
	std::string_view key;
	Value value; // monostate: field left out
};

// The job and instance a line is about. Each run passes its own, so threads running
// different jobs on one Logger never mix them.
struct LogContext {
	std::string job, instance;
};

class CRONLOCK_API Logger {
  public:
	Logger(LogFormat format, bool quiet, int fd = 2);

	void log(const LogContext &ctx, Level level, std::string_view tag,
			 std::initializer_list<Field> fields);
	// The same with the context last set by set_context (one job per Logger).
	void set_context(std::string job, std::string instance);
	void log(Level level, std::string_view tag, std::initializer_list<Field> fields);

	// The line without its newline; ts is passed in so tests are exact.
	std::string format_line(const LogContext &ctx, std::string_view tag, std::string_view ts,
							std::initializer_list<Field> fields) const;
	std::string format_line(std::string_view tag, std::string_view ts,
							std::initializer_list<Field> fields) const;

	// Takes every line that passes the quiet filter, with its newline, instead of the fd.
	// Called under the Logger's mutex: one line at a time, in order; it must not log.
	using Sink = std::function<void(Level level, std::string_view tag,
									std::initializer_list<Field> fields, std::string_view line)>;
	void set_sink(Sink sink);

  private:
	LogFormat format_;
	bool quiet_;
	int fd_;
	LogContext ctx_;
	long pid_;
	Sink sink_;
	mutable std::mutex mu_;
};

// "2026-11-26T14:40:33.123Z" for the current wall clock.
CRONLOCK_API std::string utc_timestamp();

// A logfmt value: bare when safe, else double-quoted with \" \\ \n escapes.
CRONLOCK_API std::string logfmt_value(std::string_view v);
// A JSON string literal with its quotes.
CRONLOCK_API std::string json_string(std::string_view v);

} // namespace cronlock
