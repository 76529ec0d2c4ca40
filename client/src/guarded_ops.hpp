// guarded_ops.hpp: AcquireOps over a Session shared by threads: the mutex is held for
// one statement at a time, never across a backoff sleep.
#pragma once

#include <mutex>

#include "cronlock/lease.hpp"

namespace cronlock {

class GuardedOps : public AcquireOps {
  public:
	GuardedOps(std::mutex &mu, Session &s, int interrupt_fd = -1)
		: mu_(mu), s_(s), interrupt_fd_(interrupt_fd)
	{
	}
	// Connecting and SELECT 1 stop when interrupt_fd becomes readable (a signal).
	Result<Ok> preflight() override
	{
		std::lock_guard lock(mu_);
		s_.connection().set_interrupt_fd(interrupt_fd_);
		auto r = s_.preflight();
		s_.connection().set_interrupt_fd(-1);
		return r;
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
	int interrupt_fd_;
};

} // namespace cronlock
