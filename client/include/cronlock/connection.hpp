// cronlock/connection.hpp: one libpq connection driven under client-side deadlines.
//
// Connecting and every query run non-blocking against a SteadyClock (CLOCK_BOOTTIME) deadline; when the
// deadline passes the query is cancelled (PQcancel) and the connection dropped, so no call
// waits on a frozen server or a black-holed network. Not thread-safe: one owner at a time.
#pragma once

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

	// Connects unless connected; deadline covers every host and the whole startup.
	Result<Ok> connect(Deadline deadline);

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
	void cancel_in_background();

	std::shared_ptr<const ConnectSettings> settings_;
	ConnPtr conn_;
	int interrupt_fd_ = -1;
};

// Pulls the SQLSTATE out of a libpq message produced with PQERRORS_VERBOSE
// ("FATAL:  28P01: password authentication failed ..."): libpq keeps no result for a
// failed startup, so this field is the only structured code it hands out. Takes the last.
std::string startup_sqlstate(std::string_view verbose_message);

// One line, no trailing newline, passwords scrubbed.
std::string tidy_message(std::string_view message, const std::vector<std::string> &secrets);

} // namespace cronlock
