// guarded_ops.hpp: AcquireOps over a Session shared by threads: the mutex is held for
// one statement at a time, never across a backoff sleep.
#pragma once

#include <mutex>

#include "cronlock/lease.hpp"

namespace cronlock {

class GuardedOps : public AcquireOps {
  public:
	GuardedOps(std::mutex &mu, Session &s) : mu_(mu), s_(s) {}
	Result<Ok> preflight() override
	{
		std::lock_guard lock(mu_);
		return s_.preflight();
	}
	Result<TryAnswer> try_lock(const TryRequest &req) override
	{
		std::lock_guard lock(mu_);
		return s_.try_lock(req);
	}
	int backend_pid() const override
	{
		std::lock_guard lock(mu_);
		return s_.backend_pid();
	}

  private:
	std::mutex &mu_;
	Session &s_;
};

} // namespace cronlock
