// cronlock/classify.hpp: what a failed database call means for the caller.
//
// One table turns (stage, connection phase, SQLSTATE, resolver answer) into an error
// class (the name logged as error_class) and a kind that decides what happens next.
// Message text is never looked at.
#pragma once

#include "cronlock/export.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace cronlock {

enum class ErrorKind {
	transient, // retry after a backoff
	in_doubt,  // an acquire may have committed: retry with the same attempt uuid
	busy,      // somebody else holds the job
	permanent, // configuration or privilege problem: retrying cannot help
};

enum class ErrorClass {
	connect_timeout,
	connection_refused,
	connection_reset,
	query_timeout,
	admin_shutdown,
	cannot_connect_now,
	too_many_connections,
	insufficient_resources,
	query_canceled,
	read_only,
	serialization,
	lock_not_available,
	auth_failed,
	database_missing,
	extension_missing,
	permission_denied,
	invalid_input,
	bad_conninfo,
	host_not_found,   // the resolver says the name does not exist
	dns_unavailable,  // the resolver could not answer (try again later)
	tls_failed,       // encryption required but refused, or the certificate not trusted
	misconfigured,    // the server refuses a setup it cannot work with (55000)
	in_doubt,
	server_error,
	internal_error,
};

// Where the failure happened.
enum class Stage {
	connect, // while establishing the connection (startup, authentication)
	query,   // after the statement was (possibly) sent
};

// How far a connection attempt got before it failed (from PQstatus before the last
// PQconnectPoll call), so a failure without SQLSTATE still says what went wrong.
enum class ConnectPhase {
	none,       // not attempted (or unknown)
	tcp,        // opening the TCP connection or socket
	encryption, // SSL or GSSAPI negotiation, certificate checks
	startup,    // startup packet and authentication
	session,    // authenticated; checking target_session_attrs
};

struct Failure {
	Stage stage = Stage::query;
	bool deadline_expired = false; // our steady_clock deadline fired
	bool connection_lost = false;  // the connection is unusable afterwards
	bool outcome_unknown = false;  // a writing call was sent and no answer is known
	std::string_view sqlstate{};   // empty when libpq produced the error itself
	bool password_missing = false; // libpq: the server asked for a password we lack
	bool bad_option = false;       // a connection option libpq would refuse
	int resolver_error = 0;        // getaddrinfo's answer (EAI_*), 0 when not resolving
	ConnectPhase phase = ConnectPhase::none;
	bool peer_closed = false;          // the server hung up or reset before we gave up
	bool encryption_required = false;  // sslmode require/verify-*, or gssencmode=require
	bool session_checked = false;      // target_session_attrs other than "any" was asked
};

struct Classification {
	ErrorClass cls;
	ErrorKind kind;
};

Classification classify(const Failure &f);

// What a cron_lock_try reason means for the acquisition loop.
enum class TryVerdict {
	acquired, // acquired, took_over, replayed
	retry,    // locked: another transaction (maybe our own first try) holds the row
	busy,     // held, or a reason this client does not know
	too_soon, // too_soon
};
CRONLOCK_API TryVerdict classify_reason(std::string_view reason);

CRONLOCK_API std::string_view to_string(ErrorClass c);
CRONLOCK_API std::string_view to_string(ErrorKind k);

// A failed call as a value: what the classifier said plus what to show a person.
struct Error {
	ErrorClass cls = ErrorClass::internal_error;
	ErrorKind kind = ErrorKind::permanent;
	std::string sqlstate; // may be empty
	std::string message;  // scrubbed of passwords, one line
	bool timed_out = false; // our deadline passed (the server may still be working)
};

struct Ok {};

// Either a value or an Error; database trouble travels as a value, never as an exception.
template <class T> class Result {
  public:
	Result(T v) : v_(std::move(v)) {}
	Result(Error e) : v_(std::move(e)) {}
	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }
	T &value() { return std::get<0>(v_); }
	const T &value() const { return std::get<0>(v_); }
	T &operator*() { return value(); }
	T *operator->() { return &value(); }
	const Error &error() const { return std::get<1>(v_); }

  private:
	std::variant<T, Error> v_;
};

} // namespace cronlock
