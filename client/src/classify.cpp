// classify.cpp: the one table that says what a failed database call means.
//
// Rows are matched top to bottom: connection-level facts first (an unknown outcome of a
// writing call, our own deadline), then the SQLSTATE (exact code, then its class), then
// errno, then the stage. Message text is never consulted.
#include "cronlock/classify.hpp"

#include <cerrno>

namespace cronlock {
namespace {

using K = ErrorKind;
using C = ErrorClass;

struct SqlstateRow {
	const char *code; // five characters, or a two-character class
	C cls;
	K kind;
};

// Exact codes are listed before their class so they win.
constexpr SqlstateRow sqlstate_rows[] = {
	{"57P01", C::admin_shutdown, K::transient},       // terminated by administrator
	{"57P02", C::admin_shutdown, K::transient},       // crash of another backend
	{"57P03", C::cannot_connect_now, K::transient},   // starting up, shutting down, recovery
	{"57014", C::query_canceled, K::transient},       // statement_timeout or a cancel
	{"53300", C::too_many_connections, K::transient},
	{"25006", C::read_only, K::transient},            // a standby: reconnect, maybe elsewhere
	{"40001", C::serialization, K::transient},
	{"40P01", C::serialization, K::transient},        // deadlock detected
	{"55P03", C::lock_not_available, K::transient},
	{"42883", C::extension_missing, K::permanent},    // undefined function
	{"3F000", C::extension_missing, K::permanent},    // invalid schema name
	{"42P01", C::extension_missing, K::permanent},    // undefined table (cron_lock.status)
	{"42501", C::permission_denied, K::permanent},
	{"3D000", C::database_missing, K::permanent},
	{"22004", C::invalid_input, K::permanent},
	{"22023", C::invalid_input, K::permanent},
	{"28", C::auth_failed, K::permanent},             // 28000, 28P01
	{"08", C::connection_reset, K::transient},        // connection exceptions
	{"53", C::insufficient_resources, K::transient},  // disk full, out of memory
	{"57", C::admin_shutdown, K::transient},          // operator intervention
	{"58", C::server_error, K::transient},            // I/O errors on the server
	{"40", C::serialization, K::transient},
	{"XX", C::internal_error, K::permanent},
};

struct ErrnoRow {
	int err;
	C cls;
};

constexpr ErrnoRow errno_rows[] = {
	{ECONNREFUSED, C::connection_refused}, {ETIMEDOUT, C::connect_timeout},
	{ECONNRESET, C::connection_reset},     {EPIPE, C::connection_reset},
	{ECONNABORTED, C::connection_reset},   {EHOSTUNREACH, C::connection_refused},
	{ENETUNREACH, C::connection_refused},  {ENETDOWN, C::connection_refused},
};

bool matches(const char *code, std::string_view s)
{
	std::string_view c(code);
	return c.size() == 5 ? s == c : s.substr(0, 2) == c;
}

} // namespace

Classification classify(const Failure &f)
{
	// A writing call whose answer never arrived may have committed: only a retry with
	// the same attempt id can tell, so this beats whatever else is known.
	if (f.outcome_unknown)
		return {C::in_doubt, K::in_doubt};
	if (f.deadline_expired)
		return {f.stage == Stage::connect ? C::connect_timeout : C::query_timeout, K::transient};
	if (f.password_missing)
		return {C::auth_failed, K::permanent};
	if (f.sqlstate.size() == 5) {
		for (const auto &row : sqlstate_rows)
			if (matches(row.code, f.sqlstate))
				return {row.cls, row.kind};
		// Any other server error: a bug or misconfiguration, retrying will not help.
		return {C::server_error, K::permanent};
	}
	for (const auto &row : errno_rows)
		if (row.err == f.sys_errno)
			return {row.cls, K::transient};
	// libpq gave up on its own: during startup that is a refused or unreachable server,
	// later a dropped connection.
	if (f.stage == Stage::connect)
		return {C::connection_refused, K::transient};
	return {C::connection_reset, K::transient};
}

TryVerdict classify_reason(std::string_view reason)
{
	if (reason == "acquired" || reason == "took_over" || reason == "replayed")
		return TryVerdict::acquired;
	if (reason == "locked")
		return TryVerdict::retry;
	if (reason == "too_soon")
		return TryVerdict::too_soon;
	return TryVerdict::busy;
}

std::string_view to_string(ErrorClass c)
{
	switch (c) {
	case C::connect_timeout: return "connect_timeout";
	case C::connection_refused: return "connection_refused";
	case C::connection_reset: return "connection_reset";
	case C::query_timeout: return "query_timeout";
	case C::admin_shutdown: return "admin_shutdown";
	case C::cannot_connect_now: return "cannot_connect_now";
	case C::too_many_connections: return "too_many_connections";
	case C::insufficient_resources: return "insufficient_resources";
	case C::query_canceled: return "query_canceled";
	case C::read_only: return "read_only";
	case C::serialization: return "serialization";
	case C::lock_not_available: return "lock_not_available";
	case C::auth_failed: return "auth_failed";
	case C::database_missing: return "database_missing";
	case C::extension_missing: return "extension_missing";
	case C::permission_denied: return "permission_denied";
	case C::invalid_input: return "invalid_input";
	case C::bad_conninfo: return "bad_conninfo";
	case C::in_doubt: return "in_doubt";
	case C::server_error: return "server_error";
	case C::internal_error: return "internal_error";
	}
	return "internal_error";
}

std::string_view to_string(ErrorKind k)
{
	switch (k) {
	case K::transient: return "transient";
	case K::in_doubt: return "in_doubt";
	case K::busy: return "busy";
	case K::permanent: return "permanent";
	}
	return "permanent";
}

} // namespace cronlock
