// client.cpp: Config, Lease and the Client's single calls (try_acquire, heartbeat,
// release). The whole run protocol is in runner.cpp.
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>

#include "cronlock/cronlock.hpp"
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
			 SteadyClock::time_point deadline)
	: job_(std::move(job)), instance_(std::move(instance)), run_id_(run_id), token_(token),
	  deadline_(std::make_shared<std::atomic<SteadyClock::rep>>(deadline.time_since_epoch().count()))
{
}

SteadyClock::time_point Lease::deadline() const
{
	return SteadyClock::time_point(SteadyClock::duration(deadline_->load()));
}

void Lease::set_deadline(SteadyClock::time_point d) const
{
	deadline_->store(d.time_since_epoch().count());
}

Client::Client(Config cfg) : cfg_(std::move(cfg))
{
	instance_ = cfg_.instance;
	if (instance_.empty()) {
		char host[HOST_NAME_MAX + 1] = {};
		if (gethostname(host, sizeof host - 1) == 0)
			instance_ = host;
		if (instance_.empty())
			instance_ = "localhost";
	}
	ConnectTuning tuning;
	tuning.connect_timeout = cfg_.connect_timeout;
	auto prepared = prepare_conninfo(cfg_.conninfo, tuning, ::getenv);
	if (!prepared.settings) {
		config_error_ = Error{ErrorClass::bad_conninfo, ErrorKind::permanent, "",
							  "invalid connection string: " + prepared.error};
		return;
	}
	settings_ = std::make_shared<const ConnectSettings>(std::move(*prepared.settings));
	main_ = std::make_unique<Session>(settings_, cfg_.query_timeout);
	beat_ = std::make_unique<Session>(settings_, cfg_.query_timeout);
}

Client::~Client() = default;

const Config &Client::config() const { return cfg_; }
const std::string &Client::instance() const { return instance_; }
const std::optional<Error> &Client::config_error() const { return config_error_; }

Env &Client::env() const { return cfg_.env ? *cfg_.env : system_env(); }

AcquireResult Client::try_acquire(std::string_view job,
								  const std::function<void(const TryEvent &)> &on_try)
{
	return acquire_attempt(std::string(job), uuid_v4(), on_try);
}

AcquireResult Client::acquire_attempt(const std::string &job, const std::string &attempt,
									  const std::function<void(const TryEvent &)> &on_try)
{
	if (config_error_)
		return Permanent{*config_error_, 0};
	if (auto msg = check_name("job", job); !msg.empty())
		return Permanent{Error{ErrorClass::invalid_input, ErrorKind::permanent, "22023", msg}, 0};
	if (auto msg = check_name("instance", instance_); !msg.empty())
		return Permanent{Error{ErrorClass::invalid_input, ErrorKind::permanent, "22023", msg}, 0};
	TryRequest req{job, instance_, cfg_.ttl, cfg_.min_gap, attempt};
	GuardedOps ops(main_mu_, *main_, env().interrupt_fd());
	return acquire(ops, req, cfg_.retry, env(), on_try);
}

Result<std::optional<std::string>> Client::heartbeat(const Lease &lease)
{
	if (config_error_)
		return *config_error_;
	std::lock_guard lock(beat_mu_);
	auto t_sent = env().now();
	auto r = beat_->heartbeat(lease.job(), lease.token(), cfg_.ttl);
	if (r && r->has_value())
		lease.set_deadline(t_sent + cfg_.ttl);
	return r;
}

Result<bool> Client::release(const Lease &lease, RunStatus status, const std::string &message)
{
	if (config_error_)
		return *config_error_;
	std::lock_guard lock(main_mu_);
	return main_->release(lease.job(), lease.token(), status, message);
}

Result<bool> Client::force_release(const std::string &job, std::optional<std::int64_t> token)
{
	if (config_error_)
		return *config_error_;
	std::lock_guard lock(main_mu_);
	return main_->force_release(job, token);
}

} // namespace cronlock
