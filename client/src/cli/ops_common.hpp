// ops_common.hpp: what the operating subcommands share: a session from the options,
// error reporting with the 1.2 hint, JSON timestamps, and atomic file output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "admin_common.hpp"
#include "options.hpp"

namespace cronlock::cli {

inline constexpr int exit_cantcreat = 73; // EX_CANTCREAT: the output file cannot be written

// report_error, plus: a missing view or function names the version needed; with
// `user_values`, an error of SQLSTATE class 22 (a value the server refused: a bad
// schedule, time or time zone) is a usage error, 64.
int report_ops_error(const Error &e, bool user_values = false);

// Runs fn(Session &) -> int on a connection made from the options; errors from
// making the client are reported.
template <class F> int with_db(const Options &o, F &&fn)
{
	Client client(admin_config(o));
	if (client.config_error())
		return report_ops_error(*client.config_error());
	return with_session(client, [&](Session &s) -> int { return fn(s); });
}

// A select-list item for timestamptz expression `expr` named `name`: as the session
// prints it, or for --json as ISO 8601 UTC text formatted by the server (DateStyle and
// TimeZone do not change it).
std::string ts_column(bool json, const std::string &expr, const std::string &name);

// Writes `data` to `path` atomically: a temporary file in the same directory, fsync,
// mode 0644 (or the old file's mode), rename over `path`. "-" writes to stdout.
// Returns "" or a message naming the path and the failing step.
std::string write_file_atomically(const std::string &path, const std::string &data);

// Text for HTML (and SVG inside it): & < > " ' escaped.
std::string html_escape(std::string_view s);

// A Prometheus label value: \ " and newline escaped.
std::string prom_label(std::string_view s);

// A PostgreSQL text[] literal of `items` (each double-quoted, \ and " escaped).
std::string pg_text_array(const std::vector<std::string> &items);

} // namespace cronlock::cli
