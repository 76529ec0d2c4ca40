// cronlock/lease.hpp: the cron_lock SQL API (CONTRACT section 1) over one Connection.
//
// Every statement is parameterised and runs under the query timeout; connecting runs
// under the connect timeout. Functions are called unqualified: they live in the schema
// the extension was installed into. Not thread-safe: one owner at a time.
#pragma once

#include "cronlock/export.hpp"

#include <memory>
#include <optional>
#include <string>

#include "cronlock/connection.hpp"
#include "cronlock/cronlock.hpp"
#include "cronlock/retry.hpp"

namespace cronlock {

class Session : public AcquireOps {
  public:
	Session(std::shared_ptr<const ConnectSettings> settings, Millis query_timeout);

	Result<Ok> connect();
	Result<Ok> preflight() override;
	Result<TryAnswer> try_lock(const TryRequest &req) override;
	int backend_pid() const override { return conn_.backend_pid(); }

	// The new expiry (server text), or nullopt when the token is no longer current.
	// `limit` caps the connect and query deadlines (the heartbeat's lease deadline).
	Result<std::optional<std::string>> heartbeat(const std::string &job, std::int64_t token,
												 Millis ttl, std::optional<Deadline> limit = {});
	Result<bool> release(const std::string &job, std::int64_t token, RunStatus status,
						 const std::string &message);
	Result<bool> force_release(const std::string &job, std::optional<std::int64_t> token);

	// Any other statement (the admin subcommands).
	Result<Rows> query(std::string_view sql, const std::vector<Param> &params);

	Connection &connection() { return conn_; }
	Millis query_timeout() const { return query_timeout_; }

  private:
	Deadline query_deadline(std::optional<Deadline> limit = {}) const;
	// For idempotent statements: a connection that died while idle is replaced once.
	Result<Rows> exec_idempotent(std::string_view sql, const std::vector<Param> &params,
								 std::optional<Deadline> limit = {});
	Result<Ok> ensure(std::optional<Deadline> limit = {});

	Connection conn_;
	Millis query_timeout_;
};

} // namespace cronlock
