// client_impl.hpp: the Client's and the Lease's insides, for the library's own sources
// and the cronlock command. Not installed: nothing here is part of the ABI.
#pragma once

#include <atomic>
#include <mutex>

#include "cronlock/cronlock.hpp"
#include "cronlock/lease.hpp"

namespace cronlock {

// The lease's expiry twice: on the monotonic clock (the run's deadline machinery) and
// on the wall clock (what library users see). Both move together on a renewal.
struct Lease::State {
	std::atomic<SteadyClock::rep> deadline{0};
	std::atomic<std::chrono::system_clock::rep> expires_at{0};
};

struct LeaseAccess {
	static SteadyClock::time_point deadline(const Lease &l)
	{
		return SteadyClock::time_point(SteadyClock::duration(l.state_->deadline.load()));
	}
	// A renewal sent at `sent` (the Env's clock) and `sent_wall`, for `ttl`.
	static void renewed(const Lease &l, SteadyClock::time_point sent,
						std::chrono::system_clock::time_point sent_wall, Millis ttl)
	{
		l.state_->deadline.store((sent + ttl).time_since_epoch().count());
		l.state_->expires_at.store((sent_wall + ttl).time_since_epoch().count());
	}
};

struct Client::Impl {
	Config cfg;
	std::string instance;
	std::optional<Error> config_error;
	std::shared_ptr<const ConnectSettings> settings;
	std::mutex main_mu;
	std::unique_ptr<Session> main;
	std::mutex beat_mu;
	std::unique_ptr<Session> beat;

	Env &env() const { return cfg.env ? *cfg.env : system_env(); }
	AcquireResult acquire_attempt(const std::string &job, const std::string &attempt, Env &env,
								  const std::function<void(const TryEvent &)> &on_try);
};

// The one heartbeat: renews `lease` on `session` and moves both of its expiries forward.
// `limit` caps the connect and query deadlines (the run's deadline - grace).
Result<std::optional<std::chrono::system_clock::time_point>>
renew(Session &session, const Lease &lease, Millis ttl, Env &env,
	  std::optional<Deadline> limit = {});

struct ClientAccess {
	static Client::Impl &of(Client &c) { return *c.impl_; }
};

// Runs `fn` with the client's guarded main session (admin queries, doctor).
template <class F> auto with_session(Client &c, F &&fn)
{
	auto &impl = ClientAccess::of(c);
	std::lock_guard lock(impl.main_mu);
	return fn(*impl.main);
}

inline std::shared_ptr<const ConnectSettings> connect_settings(Client &c)
{
	return ClientAccess::of(c).settings;
}

} // namespace cronlock
