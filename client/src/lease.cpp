// lease.cpp: the cron_lock SQL calls, parameterised, under deadlines.
#include "cronlock/lease.hpp"

#include <algorithm>
#include <charconv>

namespace cronlock {
namespace {

std::optional<std::int64_t> to_int(const std::optional<std::string> &s)
{
	if (!s)
		return std::nullopt;
	std::int64_t v = 0;
	auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
	if (ec != std::errc() || p != s->data() + s->size())
		return std::nullopt;
	return v;
}

Error unexpected(const char *what)
{
	return Error{ErrorClass::internal_error, ErrorKind::permanent, "",
				 std::string("unexpected answer from ") + what};
}

} // namespace

std::string_view to_string(RunStatus s)
{
	switch (s) {
	case RunStatus::succeeded: return "succeeded";
	case RunStatus::failed: return "failed";
	case RunStatus::cancelled: return "cancelled";
	}
	return "failed";
}

Session::Session(std::shared_ptr<const ConnectSettings> settings, Millis query_timeout)
	: conn_(std::move(settings)), query_timeout_(query_timeout)
{
}

Deadline Session::query_deadline(std::optional<Deadline> limit) const
{
	Deadline d = SteadyClock::now() + query_timeout_;
	return limit ? std::min(d, *limit) : d;
}

Result<Ok> Session::ensure(std::optional<Deadline> limit)
{
	return conn_.connect(limit);
}

Result<Ok> Session::connect() { return ensure(); }

Result<Rows> Session::exec_idempotent(std::string_view sql, const std::vector<Param> &params,
									  std::optional<Deadline> limit)
{
	bool reused = conn_.connected();
	if (auto r = ensure(limit); !r)
		return r.error();
	auto q = conn_.exec(sql, params, query_deadline(limit));
	// A connection kept from earlier may have died quietly (server restart, idle
	// timeout): that is not a blip of the database, so reconnect once before reporting.
	// A deadline that passed is different: the server is slow, do not wait twice.
	if (!q && reused && !conn_.connected() && !q.error().timed_out) {
		if (auto r = ensure(limit); !r)
			return r.error();
		q = conn_.exec(sql, params, query_deadline(limit));
	}
	return q;
}

Result<Ok> Session::preflight()
{
	auto q = exec_idempotent("SELECT 1", {});
	if (!q)
		return q.error();
	return Ok{};
}

Result<TryAnswer> Session::try_lock(const TryRequest &req)
{
	if (auto r = ensure(); !r)
		return r.error();
	std::vector<Param> params{req.job, req.instance, interval_text(req.ttl), req.attempt,
							  req.min_gap ? Param(interval_text(*req.min_gap)) : std::nullopt};
	auto q = conn_.exec("SELECT acquired, reason, run_id, token, holder, holder_pid, expires_at, "
						"took_over FROM cron_lock_try($1::text, $2::text, $3::interval, "
						"$4::uuid, $5::interval)",
						params, query_deadline(), true);
	if (!q)
		return q.error();
	if (q->rows() != 1 || q->columns() != 8)
		return unexpected("cron_lock_try");
	TryAnswer a;
	a.acquired = q->get(0, 0) == "t";
	a.reason = q->get(0, 1);
	a.run_id = to_int(q->opt(0, 2));
	a.token = to_int(q->opt(0, 3));
	a.holder = q->opt(0, 4);
	if (auto pid = to_int(q->opt(0, 5)))
		a.holder_pid = static_cast<int>(*pid);
	a.expires_at = q->opt(0, 6);
	a.took_over = to_int(q->opt(0, 7));
	if (a.acquired && (!a.run_id || !a.token))
		return unexpected("cron_lock_try");
	return a;
}

Result<std::optional<std::string>> Session::heartbeat(const std::string &job, std::int64_t token,
													   Millis ttl, std::optional<Deadline> limit)
{
	auto q = exec_idempotent("SELECT cron_lock_heartbeat($1::text, $2::bigint, $3::interval)",
							 {job, std::to_string(token), interval_text(ttl)}, limit);
	if (!q)
		return q.error();
	if (q->rows() != 1 || q->columns() != 1)
		return unexpected("cron_lock_heartbeat");
	return q->opt(0, 0);
}

Result<bool> Session::release(const std::string &job, std::int64_t token, RunStatus status,
							  const std::string &message)
{
	// A retried release is answered true, so it is safe to repeat.
	auto q = exec_idempotent("SELECT cron_lock_release($1::text, $2::bigint, $3::text, $4::text)",
							 {job, std::to_string(token), std::string(to_string(status)),
							  message.empty() ? std::nullopt : Param(message)});
	if (!q)
		return q.error();
	if (q->rows() != 1 || q->columns() != 1 || q->is_null(0, 0))
		return unexpected("cron_lock_release");
	return q->get(0, 0) == "t";
}

Result<bool> Session::force_release(const std::string &job, std::optional<std::int64_t> token)
{
	if (auto r = ensure(); !r)
		return r.error();
	auto q = conn_.exec("SELECT cron_lock_force_release($1::text, $2::bigint)",
						{job, token ? Param(std::to_string(*token)) : std::nullopt},
						query_deadline());
	if (!q)
		return q.error();
	if (q->rows() != 1 || q->columns() != 1 || q->is_null(0, 0))
		return unexpected("cron_lock_force_release");
	return q->get(0, 0) == "t";
}

Result<Rows> Session::query(std::string_view sql, const std::vector<Param> &params)
{
	if (auto r = ensure(); !r)
		return r.error();
	return conn_.exec(sql, params, query_deadline());
}

} // namespace cronlock
