// client.cpp: Config, Lease and the Client's single calls (try_acquire, heartbeat,
// release). The whole run protocol is in runner.cpp.
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>

#include "client_impl.hpp"
#include "cronlock/uuid.hpp"
#include "guarded_ops.hpp"

namespace cronlock {

Config Config::from_environment()
{
	Config c;
	c.conninfo = choose_conninfo(std::nullopt, ::getenv);
	if (const char *i = ::getenv("CRONLOCK_INSTANCE"))
		c.instance = i;
	return c;
}

Millis Config::effective_grace() const
{
	return grace ? *grace : std::min(Millis{10000}, ttl / 4);
}

std::string check_name(std::string_view what, std::string_view v)
{
	std::string w(what);
	if (v.empty())
		return w + " must not be empty";
	if (v.size() > 200)
		return w + " is longer than 200 bytes";
	for (char c : v)
		if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
			return w + " contains control characters";
	if (std::isspace(static_cast<unsigned char>(v.front())) ||
		std::isspace(static_cast<unsigned char>(v.back())))
		return w + " has leading or trailing spaces";
	return "";
}

Lease::Lease(std::string job, std::string instance, std::int64_t run_id, std::int64_t token,
			 std::chrono::system_clock::time_point expires_at)
	: job_(std::move(job)), instance_(std::move(instance)), run_id_(run_id), token_(token),
	  state_(std::make_shared<State>())
{
	// The monotonic deadline the same distance away as expires_at.
	const auto left = expires_at - std::chrono::system_clock::now();
	state_->deadline.store(
		(SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(left))
			.time_since_epoch()
			.count());
	state_->expires_at.store(expires_at.time_since_epoch().count());
}

std::chrono::system_clock::time_point Lease::expires_at() const
{
	return std::chrono::system_clock::time_point(
		std::chrono::system_clock::duration(state_->expires_at.load()));
}

Result<std::optional<std::chrono::system_clock::time_point>>
renew(Session &session, const Lease &lease, Millis ttl, Env &env, std::optional<Deadline> limit)
{
	const auto t_sent = env.now();
	const auto wall_sent = std::chrono::system_clock::now();
	auto r = session.heartbeat(lease.job(), lease.token(), ttl, limit);
	if (!r)
		return r.error();
	if (!r->has_value())
		return std::optional<std::chrono::system_clock::time_point>{};
	LeaseAccess::renewed(lease, t_sent, wall_sent, ttl);
	return std::optional(lease.expires_at());
}

Client::Client(Config cfg) : impl_(std::make_unique<Impl>())
{
	Impl &d = *impl_;
	d.cfg = std::move(cfg);
	d.instance = d.cfg.instance;
	if (d.instance.empty()) {
		char host[HOST_NAME_MAX + 1] = {};
		if (gethostname(host, sizeof host - 1) == 0)
			d.instance = host;
		if (d.instance.empty())
			d.instance = "localhost";
	}
	ConnectTuning tuning;
	tuning.connect_timeout = d.cfg.connect_timeout;
	auto prepared = prepare_conninfo(d.cfg.conninfo, tuning, ::getenv);
	if (!prepared.settings) {
		d.config_error = Error{ErrorClass::bad_conninfo, ErrorKind::permanent, "",
							   "invalid connection string: " + prepared.error};
		return;
	}
	prepared.settings->notices = d.cfg.logger;
	d.settings = std::make_shared<const ConnectSettings>(std::move(*prepared.settings));
	d.main = std::make_unique<Session>(d.settings, d.cfg.query_timeout);
	d.beat = std::make_unique<Session>(d.settings, d.cfg.query_timeout);
}

Client::~Client() = default;

const Config &Client::config() const { return impl_->cfg; }
const std::string &Client::instance() const { return impl_->instance; }
const std::optional<Error> &Client::config_error() const { return impl_->config_error; }

AcquireResult Client::try_acquire(std::string_view job,
								  const std::function<void(const TryEvent &)> &on_try)
{
	return impl_->acquire_attempt(std::string(job), uuid_v4(), impl_->env(), on_try);
}

AcquireResult Client::Impl::acquire_attempt(const std::string &job, const std::string &attempt,
											Env &env,
											const std::function<void(const TryEvent &)> &on_try)
{
	if (config_error)
		return Permanent{*config_error, 0};
	if (auto msg = check_name("job", job); !msg.empty())
		return Permanent{Error{ErrorClass::invalid_input, ErrorKind::permanent, "22023", msg}, 0};
	if (auto msg = check_name("instance", instance); !msg.empty())
		return Permanent{Error{ErrorClass::invalid_input, ErrorKind::permanent, "22023", msg}, 0};
	TryRequest req{job, instance, cfg.ttl, cfg.min_gap, attempt};
	GuardedOps ops(main_mu, *main, env.interrupt_fd());
	return acquire(ops, req, cfg.retry, env, on_try);
}

Result<std::optional<std::chrono::system_clock::time_point>> Client::heartbeat(const Lease &lease)
{
	if (impl_->config_error)
		return *impl_->config_error;
	std::lock_guard lock(impl_->beat_mu);
	return renew(*impl_->beat, lease, impl_->cfg.ttl, impl_->env());
}

Result<bool> Client::release(const Lease &lease, RunStatus status, const std::string &message)
{
	if (impl_->config_error)
		return *impl_->config_error;
	std::lock_guard lock(impl_->main_mu);
	return impl_->main->release(lease.job(), lease.token(), status, message);
}

Result<bool> Client::force_release(const std::string &job, std::optional<std::int64_t> token)
{
	if (impl_->config_error)
		return *impl_->config_error;
	std::lock_guard lock(impl_->main_mu);
	return impl_->main->force_release(job, token);
}

} // namespace cronlock
