// classify.cpp: the one table that says what a failed database call means.
//
// Rows are matched top to bottom: connection-level facts first (an unknown outcome of a
// writing call, our own deadline, a refused option), then the SQLSTATE (exact code, then
// its class), then the resolver's answer, then how far the connection got. Message text
// is never consulted, and neither is errno: after PQconnectPoll returns it describes
// whatever libpq did last (closing the socket, freeing memory), not the failure.
#include "cronlock/classify.hpp"

#include <netdb.h>

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
	{"55000", C::misconfigured, K::permanent},        // e.g. a trigger on cron_lock's tables
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

struct ResolverRow {
	int eai;
	C cls;
	K kind;
};

// getaddrinfo's answers. A name that does not exist is a typo until proven otherwise;
// a resolver that cannot answer (no server reachable, SERVFAIL) may answer later.
constexpr ResolverRow resolver_rows[] = {
	{EAI_NONAME, C::host_not_found, K::permanent},
#ifdef EAI_NODATA
	{EAI_NODATA, C::host_not_found, K::permanent}, // the name exists, without an address
#endif
	{EAI_AGAIN, C::dns_unavailable, K::transient},
	{EAI_FAIL, C::dns_unavailable, K::transient},
	{EAI_MEMORY, C::dns_unavailable, K::transient},
	{EAI_SYSTEM, C::dns_unavailable, K::transient},
	{EAI_SERVICE, C::bad_conninfo, K::permanent},  // a port libpq would refuse too
	{EAI_FAMILY, C::bad_conninfo, K::permanent},
	{EAI_BADFLAGS, C::bad_conninfo, K::permanent},
	{EAI_SOCKTYPE, C::bad_conninfo, K::permanent},
};

using P = ConnectPhase;

// A connection attempt that failed without a SQLSTATE, by how far it got. A hang-up by
// the server is a blip wherever it happens; encryption that was required and failed
// while the server was still listening (it answered "no SSL", or its certificate did not
// verify, or our root certificate is missing) fails the same way next time.
struct PhaseRow {
	P phase;
	bool peer_closed;
	bool encryption_required;
	bool session_checked;
	C cls;
	K kind;
};

constexpr PhaseRow phase_rows[] = {
	{P::encryption, false, true, false, C::tls_failed, K::permanent},
	{P::encryption, false, true, true, C::tls_failed, K::permanent},
	{P::session, false, false, true, C::read_only, K::transient}, // not the server type asked for
	{P::session, false, true, true, C::read_only, K::transient},
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
	if (f.bad_option)
		return {C::bad_conninfo, K::permanent};
	if (f.sqlstate.size() == 5) {
		for (const auto &row : sqlstate_rows)
			if (matches(row.code, f.sqlstate))
				return {row.cls, row.kind};
		// Any other server error: a bug or misconfiguration, retrying will not help.
		return {C::server_error, K::permanent};
	}
	if (f.resolver_error != 0) {
		for (const auto &row : resolver_rows)
			if (row.eai == f.resolver_error)
				return {row.cls, row.kind};
		return {C::dns_unavailable, K::transient};
	}
	for (const auto &row : phase_rows)
		if (row.phase == f.phase && row.peer_closed == f.peer_closed &&
			row.encryption_required == f.encryption_required &&
			row.session_checked == f.session_checked)
			return {row.cls, row.kind};
	// libpq gave up on its own: before the server answered that is a refused or
	// unreachable server, later a dropped connection.
	if (f.stage == Stage::connect && (f.phase == P::tcp || f.phase == P::none))
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
	case C::host_not_found: return "host_not_found";
	case C::dns_unavailable: return "dns_unavailable";
	case C::tls_failed: return "tls_failed";
	case C::misconfigured: return "misconfigured";
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
