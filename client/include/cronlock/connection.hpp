// cronlock/connection.hpp: one libpq connection driven under client-side deadlines.
//
// Connecting and every query run non-blocking against a SteadyClock (CLOCK_BOOTTIME) deadline; when the
// deadline passes the query is cancelled (PQcancel) and the connection dropped, so no call
// waits on a frozen server or a black-holed network. Not thread-safe: one owner at a time.
#pragma once

#include "cronlock/export.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cronlock/classify.hpp"
#include "cronlock/conninfo.hpp"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace cronlock {

using Deadline = SteadyClock::time_point;

struct ConnDeleter {
	void operator()(PGconn *c) const;
};
struct ResultDeleter {
	void operator()(PGresult *r) const;
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// The rows of a successful statement (text format).
class Rows {
  public:
	explicit Rows(ResultPtr r) : r_(std::move(r)) {}
	int rows() const;
	int columns() const;
	bool is_null(int row, int col) const;
	std::string_view get(int row, int col) const;
	std::optional<std::string> opt(int row, int col) const;
	std::string_view name(int col) const;
	unsigned type(int col) const; // the column's type oid
	PGresult *raw() const { return r_.get(); }

  private:
	ResultPtr r_;
};

using Param = std::optional<std::string>; // nullopt is SQL NULL

class Connection {
  public:
	explicit Connection(std::shared_ptr<const ConnectSettings> settings);
	~Connection();
	Connection(const Connection &) = delete;
	Connection &operator=(const Connection &) = delete;

	bool connected() const { return conn_ != nullptr; }

	// Connects unless connected. Walks the host list in order (twice for
	// prefer-standby), resolving names itself; each address gets connect_timeout, name
	// lookup included. `limit`, when given, caps the whole walk.
	Result<Ok> connect(std::optional<Deadline> limit = {});

	// Runs one parameterised statement. `writes` marks a call whose effect must not be
	// lost: if the connection fails before the answer arrived, the error is in_doubt.
	// On a lost connection or a passed deadline the connection is dropped.
	Result<Rows> exec(std::string_view sql, const std::vector<Param> &params, Deadline deadline,
					  bool writes = false);

	void drop();
	// While >= 0, every wait also ends when `fd` is readable: the call fails, dropping
	// the connection (the caller checks why). -1 turns it off.
	void set_interrupt_fd(int fd) { interrupt_fd_ = fd; }
	int backend_pid() const; // as libpq was told at startup; 0 when not connected
	PGconn *raw() const { return conn_.get(); }
	const ConnectSettings &settings() const { return *settings_; }

  private:
	Error fail(const Failure &f, std::string message) const;
	// One libpq connection attempt to one address of one host (null: libpq's own list).
	Result<Ok> attempt(const HostSpec *host, const std::string &hostaddr,
					   const std::string &session_attrs, Deadline deadline);
	void cancel_in_background();

	std::shared_ptr<const ConnectSettings> settings_;
	ConnPtr conn_;
	int interrupt_fd_ = -1;
};

// The SQLSTATE of a refused startup, from libpq's PQERRORS_VERBOSE rendering of the
// server's ErrorResponse ("... failed: FATAL:  28P01: password authentication ...").
// Not a parse of prose: libpq 15 to 18 keep the startup ErrorResponse in a private
// result that no function returns (PQgetResult answers NULL on a connection that never
// became ready), so this documented "SEVERITY:  SQLSTATE: " prefix is the only place the
// code is handed out. Per line (one line per attempt), only the first such prefix counts:
// it precedes the primary message, which may quote user-chosen names. The last line
// with a code wins (the final attempt). "" when the server sent no error.
std::string startup_sqlstate(std::string_view verbose_message);

// Connection-level cancel requests (PQcancel) still running; at most a few are kept
// when a frozen server never answers them.
int cancels_in_flight();

// One line, no trailing newline, passwords in conninfo positions masked.
std::string tidy_message(std::string_view message);

} // namespace cronlock
