// The classifier table, row by row, and the SQLSTATE extraction from startup errors.
#include <gtest/gtest.h>

#include <netdb.h>

#include "cronlock/classify.hpp"
#include "cronlock/connection.hpp"

using namespace cronlock;

namespace {

struct Row {
	const char *what;
	Failure f;
	const char *cls;
	ErrorKind kind;
};

Failure sql(const char *state, bool lost = false)
{
	return Failure{.stage = Stage::query, .connection_lost = lost, .sqlstate = state};
}
Failure startup(const char *state)
{
	return Failure{.stage = Stage::connect, .connection_lost = true, .sqlstate = state};
}

const Row rows[] = {
	{"terminated by admin", sql("57P01", true), "admin_shutdown", ErrorKind::transient},
	{"crash shutdown", sql("57P02", true), "admin_shutdown", ErrorKind::transient},
	{"starting up", startup("57P03"), "cannot_connect_now", ErrorKind::transient},
	{"too many connections", startup("53300"), "too_many_connections", ErrorKind::transient},
	{"out of memory", sql("53200"), "insufficient_resources", ErrorKind::transient},
	{"standby", sql("25006"), "read_only", ErrorKind::transient},
	{"serialization", sql("40001"), "serialization", ErrorKind::transient},
	{"deadlock", sql("40P01"), "serialization", ErrorKind::transient},
	{"lock not available", sql("55P03"), "lock_not_available", ErrorKind::transient},
	{"statement timeout", sql("57014"), "query_canceled", ErrorKind::transient},
	{"bad password", startup("28P01"), "auth_failed", ErrorKind::permanent},
	{"no such role / hba", startup("28000"), "auth_failed", ErrorKind::permanent},
	{"undefined function", sql("42883"), "extension_missing", ErrorKind::permanent},
	{"no such schema", sql("3F000"), "extension_missing", ErrorKind::permanent},
	{"no such view", sql("42P01"), "extension_missing", ErrorKind::permanent},
	{"no privilege", sql("42501"), "permission_denied", ErrorKind::permanent},
	{"no such database", startup("3D000"), "database_missing", ErrorKind::permanent},
	{"null input", sql("22004"), "invalid_input", ErrorKind::permanent},
	{"bad input", sql("22023"), "invalid_input", ErrorKind::permanent},
	{"connection failure", sql("08006", true), "connection_reset", ErrorKind::transient},
	{"unknown SQLSTATE", sql("P0001"), "server_error", ErrorKind::permanent},
	{"internal error", sql("XX000"), "internal_error", ErrorKind::permanent},
	{"io error", sql("58030"), "server_error", ErrorKind::transient},
	{"connect deadline", Failure{.stage = Stage::connect, .deadline_expired = true},
	 "connect_timeout", ErrorKind::transient},
	{"query deadline", Failure{.stage = Stage::query, .deadline_expired = true}, "query_timeout",
	 ErrorKind::transient},
	{"refused, no sqlstate", startup(""), "connection_refused", ErrorKind::transient},
	{"refused while opening TCP", Failure{.stage = Stage::connect, .phase = ConnectPhase::tcp},
	 "connection_refused", ErrorKind::transient},
	{"bogus sslmode", Failure{.stage = Stage::connect, .bad_option = true}, "bad_conninfo",
	 ErrorKind::permanent},
	{"no such host", Failure{.stage = Stage::connect, .resolver_error = EAI_NONAME},
	 "host_not_found", ErrorKind::permanent},
	{"host without address", Failure{.stage = Stage::connect, .resolver_error = EAI_NODATA},
	 "host_not_found", ErrorKind::permanent},
	{"resolver down", Failure{.stage = Stage::connect, .resolver_error = EAI_AGAIN},
	 "dns_unavailable", ErrorKind::transient},
	{"resolver SERVFAIL", Failure{.stage = Stage::connect, .resolver_error = EAI_FAIL},
	 "dns_unavailable", ErrorKind::transient},
	{"resolver silent past the deadline",
	 Failure{.stage = Stage::connect, .deadline_expired = true, .resolver_error = 0},
	 "connect_timeout", ErrorKind::transient},
	{"sslmode=require, server without TLS",
	 Failure{.stage = Stage::connect, .phase = ConnectPhase::encryption, .encryption_required = true},
	 "tls_failed", ErrorKind::permanent},
	{"certificate not verified, several hosts",
	 Failure{.stage = Stage::connect, .phase = ConnectPhase::encryption,
			 .encryption_required = true, .session_checked = true},
	 "tls_failed", ErrorKind::permanent},
	{"reset during the TLS handshake",
	 Failure{.stage = Stage::connect, .phase = ConnectPhase::encryption, .peer_closed = true,
			 .encryption_required = true},
	 "connection_reset", ErrorKind::transient},
	{"sslmode=prefer, TLS failed", Failure{.stage = Stage::connect, .phase = ConnectPhase::encryption},
	 "connection_reset", ErrorKind::transient},
	{"standby refused by target_session_attrs",
	 Failure{.stage = Stage::connect, .phase = ConnectPhase::session, .session_checked = true},
	 "read_only", ErrorKind::transient},
	{"hung up after authentication",
	 Failure{.stage = Stage::connect, .phase = ConnectPhase::session, .peer_closed = true,
			 .session_checked = true},
	 "connection_reset", ErrorKind::transient},
	{"hung up during startup",
	 Failure{.stage = Stage::connect, .phase = ConnectPhase::startup, .peer_closed = true},
	 "connection_reset", ErrorKind::transient},
	{"refused setup (trigger on cron_lock's tables)", sql("55000"), "misconfigured",
	 ErrorKind::permanent},
	{"dropped mid-query", sql("", true), "connection_reset", ErrorKind::transient},
	{"try pending when dropped",
	 Failure{.stage = Stage::query, .connection_lost = true, .outcome_unknown = true},
	 "in_doubt", ErrorKind::in_doubt},
	{"try pending, FATAL 57P01",
	 Failure{.connection_lost = true, .outcome_unknown = true, .sqlstate = "57P01"}, "in_doubt",
	 ErrorKind::in_doubt},
	{"try past deadline",
	 Failure{.deadline_expired = true, .connection_lost = true, .outcome_unknown = true},
	 "in_doubt", ErrorKind::in_doubt},
	{"no password supplied", Failure{.stage = Stage::connect, .password_missing = true},
	 "auth_failed", ErrorKind::permanent},
};

} // namespace

TEST(Classify, EveryRowOfTheTable)
{
	for (const auto &r : rows) {
		auto c = classify(r.f);
		EXPECT_EQ(to_string(c.cls), r.cls) << r.what;
		EXPECT_EQ(c.kind, r.kind) << r.what;
	}
}

TEST(Classify, TryReasons)
{
	EXPECT_EQ(classify_reason("acquired"), TryVerdict::acquired);
	EXPECT_EQ(classify_reason("took_over"), TryVerdict::acquired);
	EXPECT_EQ(classify_reason("replayed"), TryVerdict::acquired);
	EXPECT_EQ(classify_reason("locked"), TryVerdict::retry);
	EXPECT_EQ(classify_reason("held"), TryVerdict::busy);
	EXPECT_EQ(classify_reason("too_soon"), TryVerdict::too_soon);
	EXPECT_EQ(classify_reason("something_new"), TryVerdict::busy);
}

TEST(Classify, KindNames)
{
	EXPECT_EQ(to_string(ErrorKind::transient), "transient");
	EXPECT_EQ(to_string(ErrorKind::in_doubt), "in_doubt");
	EXPECT_EQ(to_string(ErrorKind::busy), "busy");
	EXPECT_EQ(to_string(ErrorKind::permanent), "permanent");
}

TEST(StartupSqlstate, FromVerboseMessages)
{
	EXPECT_EQ(startup_sqlstate("connection to server at \"127.0.0.1\", port 5432 failed: "
							   "FATAL:  28P01: password authentication failed for user \"pw_x\"\n"),
			  "28P01");
	EXPECT_EQ(startup_sqlstate("connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: "
							   "FATAL:  53300: sorry, too many clients already\n"),
			  "53300");
	// Several attempts: the last one's answer decides.
	EXPECT_EQ(startup_sqlstate("... failed: FATAL:  57P03: the database system is starting up\n"
							   "... failed: FATAL:  3D000: database \"x\" does not exist\n"),
			  "3D000");
	// A user name that looks like a code does not override the server's.
	EXPECT_EQ(startup_sqlstate("... failed: FATAL:  28P01: password authentication failed for "
							   "user \"a:  57P03: \"\n"),
			  "28P01");
	EXPECT_EQ(startup_sqlstate("connection to server at \"127.0.0.1\", port 1 failed: Connection "
							   "refused\n\tIs the server running on that host?\n"),
			  "");
	EXPECT_EQ(startup_sqlstate("FATAL:  password authentication failed"), "");
	EXPECT_EQ(startup_sqlstate("FATAL:  28p01: lower case is no SQLSTATE"), "");
}

TEST(TidyMessage, OneLineNoLocation)
{
	std::string m = "connection to server at \"h\" failed: FATAL:  28P01: password authentication "
					"failed for user \"bob\"\nLOCATION:  auth_failed, auth.c:326\n"
					"\tsecond line  \n";
	EXPECT_EQ(tidy_message(m), "connection to server at \"h\" failed: FATAL:  28P01: password "
							   "authentication failed for user \"bob\"; second line");
}

// Only password positions are masked: a short password elsewhere in a message is
// ordinary text (masking it would mangle the message and show where it occurs).
TEST(TidyMessage, MasksPasswordPositionsOnly)
{
	EXPECT_EQ(tidy_message("password authentication failed for user \"alice\""),
			  "password authentication failed for user \"alice\"");
	EXPECT_EQ(tidy_message("bad string postgresql://alice:a@h/db and host=h password=a x"),
			  "bad string postgresql://alice:****@h/db and host=h password=**** x");
}
