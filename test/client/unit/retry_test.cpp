// The acquisition loop with an injected clock, random source and sleep: the backoff
// schedule is asserted to the millisecond.
#include <gtest/gtest.h>

#include <deque>

#include "cronlock/retry.hpp"

using namespace cronlock;
using namespace std::chrono_literals;

namespace {

class FakeEnv : public Env {
  public:
	SteadyClock::time_point t{};
	std::vector<Millis> slept;
	std::vector<std::uint64_t> random_bounds;
	std::uint64_t next_random = 17;
	int interrupt_after = -1; // sleeps allowed before one is interrupted

	SteadyClock::time_point now() override { return t; }
	std::uint64_t random_below(std::uint64_t n) override
	{
		random_bounds.push_back(n);
		return next_random % n;
	}
	bool sleep_for(Millis d) override
	{
		if (interrupt_after >= 0 && static_cast<int>(slept.size()) == interrupt_after)
			return false;
		slept.push_back(d);
		t += d;
		return true;
	}
};

Error transient() { return Error{ErrorClass::connection_refused, ErrorKind::transient, "", "refused"}; }
Error in_doubt() { return Error{ErrorClass::in_doubt, ErrorKind::in_doubt, "", "lost"}; }
Error permanent() { return Error{ErrorClass::auth_failed, ErrorKind::permanent, "28P01", "auth"}; }

TryAnswer answer(const char *reason)
{
	TryAnswer a;
	a.reason = reason;
	a.acquired = classify_reason(reason) == TryVerdict::acquired;
	if (a.acquired) {
		a.run_id = 7;
		a.token = 42;
	}
	a.holder = "other-host";
	return a;
}

// Scripted database: each call pops the next scripted result (default: success).
class ScriptedOps : public AcquireOps {
  public:
	FakeEnv *env = nullptr;
	std::deque<std::optional<Error>> preflights;
	std::deque<Result<TryAnswer>> tries;
	std::vector<std::string> attempts;
	std::vector<SteadyClock::time_point> try_times;
	int preflight_calls = 0;

	Result<Ok> preflight() override
	{
		++preflight_calls;
		env->t += 3ms; // a round trip
		if (preflights.empty() || !preflights.front()) {
			if (!preflights.empty())
				preflights.pop_front();
			return Ok{};
		}
		Error e = *preflights.front();
		preflights.pop_front();
		return e;
	}
	Result<TryAnswer> try_lock(const TryRequest &req) override
	{
		attempts.push_back(req.attempt);
		try_times.push_back(env->t);
		env->t += 2ms;
		if (tries.empty())
			return answer("acquired");
		auto r = tries.front();
		tries.pop_front();
		return r;
	}
	int backend_pid() const override { return 4242; }
};

struct AcquireLoop : ::testing::Test {
	FakeEnv env;
	ScriptedOps ops;
	std::vector<TryEvent> events;
	TryRequest req{"job", "host-a", Millis{60000}, std::nullopt, "attempt-uuid"};
	RetryPolicy policy; // 5 retries, 250ms, 250ms jitter
	AcquireLoop() { ops.env = &env; }
	AcquireResult run()
	{
		return acquire(ops, req, policy, env, [this](const TryEvent &e) { events.push_back(e); });
	}
};

} // namespace

TEST_F(AcquireLoop, ScheduleWhenTheDatabaseStaysDown)
{
	for (int i = 0; i < 6; ++i)
		ops.preflights.push_back(transient());
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<Unavailable>(r));
	EXPECT_EQ(std::get<Unavailable>(r).tries, 6);
	EXPECT_EQ(std::get<Unavailable>(r).last.cls, ErrorClass::connection_refused);
	// backoff * 2^k + uniform[0, jitter): the fake random source answers 17.
	EXPECT_EQ(env.slept, (std::vector<Millis>{267ms, 517ms, 1017ms, 2017ms, 4017ms}));
	EXPECT_EQ(env.random_bounds, (std::vector<std::uint64_t>{250, 250, 250, 250, 250}));
	ASSERT_EQ(events.size(), 6u);
	for (int i = 0; i < 6; ++i) {
		EXPECT_EQ(events[i].try_no, i + 1);
		EXPECT_EQ(events[i].outcome, TryEvent::Outcome::error);
		EXPECT_EQ(events[i].elapsed, 3ms);
		EXPECT_EQ(events[i].backend_pid, 4242);
	}
	EXPECT_TRUE(ops.attempts.empty()); // never tried without a preflight
}

TEST_F(AcquireLoop, ScheduleWithoutJitter)
{
	policy.jitter = Millis{0};
	for (int i = 0; i < 6; ++i)
		ops.preflights.push_back(transient());
	run();
	EXPECT_EQ(env.slept, (std::vector<Millis>{250ms, 500ms, 1000ms, 2000ms, 4000ms}));
	EXPECT_TRUE(env.random_bounds.empty());
}

TEST_F(AcquireLoop, RecoversAfterTwoBlips)
{
	ops.preflights = {transient(), transient()};
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<Acquired>(r));
	EXPECT_EQ(std::get<Acquired>(r).tries, 3);
	EXPECT_EQ(std::get<Acquired>(r).answer.token, 42);
	// t_sent is when the winning try was sent: after 2 failed preflights, 2 sleeps, 1 preflight.
	EXPECT_EQ(std::get<Acquired>(r).t_sent, ops.try_times.back());
	EXPECT_EQ(env.slept, (std::vector<Millis>{267ms, 517ms}));
	EXPECT_EQ(events.back().outcome, TryEvent::Outcome::acquired);
}

TEST_F(AcquireLoop, InDoubtIsRetriedWithTheSameAttempt)
{
	ops.tries.push_back(in_doubt());
	ops.tries.push_back(answer("replayed"));
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<Acquired>(r));
	EXPECT_EQ(std::get<Acquired>(r).answer.reason, "replayed");
	EXPECT_EQ(ops.attempts, (std::vector<std::string>{"attempt-uuid", "attempt-uuid"}));
	EXPECT_EQ(ops.preflight_calls, 2);
	EXPECT_EQ(events[0].error->cls, ErrorClass::in_doubt);
}

TEST_F(AcquireLoop, LockedIsRetriedThenBusy)
{
	for (int i = 0; i < 6; ++i)
		ops.tries.push_back(answer("locked"));
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<BusyAnswer>(r));
	EXPECT_EQ(std::get<BusyAnswer>(r).answer.reason, "locked");
	EXPECT_EQ(std::get<BusyAnswer>(r).tries, 6);
	EXPECT_EQ(env.slept.size(), 5u);
	EXPECT_EQ(events[0].outcome, TryEvent::Outcome::busy);
}

TEST_F(AcquireLoop, LockedThenAcquired)
{
	ops.tries.push_back(answer("locked"));
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<Acquired>(r));
	EXPECT_EQ(env.slept, (std::vector<Millis>{267ms}));
}

TEST_F(AcquireLoop, HeldAndTooSoonAreFinal)
{
	ops.tries.push_back(answer("held"));
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<BusyAnswer>(r));
	EXPECT_EQ(std::get<BusyAnswer>(r).answer.holder, "other-host");
	EXPECT_TRUE(env.slept.empty());

	ops.tries.push_back(answer("too_soon"));
	r = run();
	ASSERT_TRUE(std::holds_alternative<BusyAnswer>(r));
	EXPECT_EQ(std::get<BusyAnswer>(r).answer.reason, "too_soon");
	EXPECT_TRUE(env.slept.empty());
}

TEST_F(AcquireLoop, PermanentStopsAtOnce)
{
	ops.preflights = {transient(), permanent()};
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<Permanent>(r));
	EXPECT_EQ(std::get<Permanent>(r).tries, 2);
	EXPECT_EQ(std::get<Permanent>(r).error.cls, ErrorClass::auth_failed);
	EXPECT_EQ(env.slept.size(), 1u);

	ops.tries.push_back(Error{ErrorClass::extension_missing, ErrorKind::permanent, "42883", "x"});
	r = run();
	ASSERT_TRUE(std::holds_alternative<Permanent>(r));
	EXPECT_EQ(std::get<Permanent>(r).error.sqlstate, "42883");
}

TEST_F(AcquireLoop, ZeroRetriesMeansOneTry)
{
	policy.retries = 0;
	ops.preflights = {transient()};
	auto r = run();
	ASSERT_TRUE(std::holds_alternative<Unavailable>(r));
	EXPECT_EQ(std::get<Unavailable>(r).tries, 1);
	EXPECT_TRUE(env.slept.empty());
}

TEST_F(AcquireLoop, InterruptedSleepGivesUp)
{
	env.interrupt_after = 1;
	for (int i = 0; i < 6; ++i)
		ops.preflights.push_back(transient());
	auto r = run();
	EXPECT_TRUE(std::holds_alternative<Interrupted>(r));
	EXPECT_EQ(events.size(), 2u);
}

TEST(RetryDelay, SaturatesInsteadOfOverflowing)
{
	FakeEnv env;
	EXPECT_EQ(retry_delay(0, 250ms, Millis{0}, env), 250ms);
	EXPECT_EQ(retry_delay(3, 250ms, Millis{0}, env), 2000ms);
	EXPECT_EQ(retry_delay(200, 250ms, Millis{0}, env), max_duration);
	EXPECT_EQ(retry_delay(2, 1000ms, 100ms, env), 4017ms);
}

TEST(SystemEnv, RandomStaysBelowTheBound)
{
	Env &env = system_env();
	for (int i = 0; i < 1000; ++i)
		EXPECT_LT(env.random_below(250), 250u);
	EXPECT_EQ(env.random_below(1), 0u);
}
