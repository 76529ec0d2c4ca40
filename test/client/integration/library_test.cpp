// libcronlock against a real cluster: the single calls, run() with its stop_token,
// several threads on one Client, and the permanent errors.
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <latch>
#include <thread>

#include "cronlock/cronlock.hpp"
#include "harness.hpp"

using namespace cronlock;
using namespace std::chrono_literals;

namespace {

Config quick(const std::string &instance)
{
	Config c = Config::from_environment();
	c.instance = instance;
	c.ttl = 30s;
	c.retry = RetryPolicy{0, 50ms, Millis{0}};
	return c;
}

} // namespace

TEST(Library, AcquireHeartbeatRelease)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("lib");
	Client a(quick("host-a")), b(quick("host-b"));
	auto r = a.try_acquire(job);
	ASSERT_TRUE(std::holds_alternative<Acquired>(r));
	const auto &won = std::get<Acquired>(r).answer;
	EXPECT_EQ(won.reason, "acquired");
	ASSERT_TRUE(won.token && won.run_id);
	Lease lease(job, "host-a", *won.run_id, *won.token, SteadyClock::now() + 30s);

	auto busy = b.try_acquire(job);
	ASSERT_TRUE(std::holds_alternative<BusyAnswer>(busy));
	EXPECT_EQ(std::get<BusyAnswer>(busy).answer.reason, "held");
	EXPECT_EQ(std::get<BusyAnswer>(busy).answer.holder, "host-a");

	auto before = lease.deadline();
	std::this_thread::sleep_for(20ms);
	auto hb = a.heartbeat(lease);
	ASSERT_TRUE(hb) << hb.error().message;
	EXPECT_TRUE(hb->has_value());
	EXPECT_GT(lease.deadline(), before);

	auto rel = a.release(lease, RunStatus::succeeded, "done");
	ASSERT_TRUE(rel) << rel.error().message;
	EXPECT_TRUE(rel.value());
	rel = a.release(lease, RunStatus::succeeded); // a retried release is still true
	ASSERT_TRUE(rel);
	EXPECT_TRUE(rel.value());
	hb = a.heartbeat(lease); // no longer current
	ASSERT_TRUE(hb);
	EXPECT_FALSE(hb->has_value());

	it::Sql sql;
	EXPECT_EQ(sql.one("SELECT status FROM cron_lock.job_runs WHERE run_id = $1",
					  {std::to_string(*won.run_id)}),
			  "succeeded");
	EXPECT_EQ(sql.one("SELECT message FROM cron_lock.job_runs WHERE run_id = $1",
					  {std::to_string(*won.run_id)}),
			  "done");
}

TEST(Library, SameAttemptIsReplayedNotGrantedTwice)
{
	REQUIRE_DB();
	// What an in-doubt retry relies on: the same attempt uuid gets the same lease back.
	ConnectTuning tuning;
	auto prepared = prepare_conninfo("", tuning, ::getenv);
	ASSERT_TRUE(prepared.settings);
	auto settings = std::make_shared<const ConnectSettings>(*prepared.settings);
	Session s1(settings, Millis{2000}), s2(settings, Millis{2000});
	TryRequest req{it::unique_job("replay"), "host-a", Millis{30000}, std::nullopt,
				   "6f1c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"};
	ASSERT_TRUE(s1.preflight());
	auto first = s1.try_lock(req);
	ASSERT_TRUE(first) << first.error().message;
	EXPECT_EQ(first->reason, "acquired");
	auto again = s2.try_lock(req); // another connection, as after a reconnect
	ASSERT_TRUE(again) << again.error().message;
	EXPECT_EQ(again->reason, "replayed");
	EXPECT_EQ(again->token, first->token);
	EXPECT_EQ(again->run_id, first->run_id);
	req.attempt = "7f1c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f";
	auto other = s2.try_lock(req);
	ASSERT_TRUE(other);
	EXPECT_EQ(other->reason, "held"); // same instance, new attempt: no re-entry
}

TEST(Library, RunReleasesWithTheJobsStatus)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("run");
	Client c(quick("host-a"));
	std::int64_t seen_token = 0;
	auto out = c.run(job, [&](const Lease &lease, std::stop_token st) {
		seen_token = lease.token();
		EXPECT_FALSE(st.stop_requested());
		EXPECT_GT(lease.deadline(), SteadyClock::now() + 20s);
		return JobResult{RunStatus::failed, 4, "it failed"};
	});
	ASSERT_TRUE(std::holds_alternative<Ran>(out));
	const auto &ran = std::get<Ran>(out);
	EXPECT_TRUE(ran.released);
	EXPECT_EQ(ran.token, seen_token);
	EXPECT_EQ(ran.result.exit_code, 4);
	it::Sql sql;
	EXPECT_EQ(sql.one("SELECT status FROM cron_lock.job_runs WHERE run_id = $1",
					  {std::to_string(ran.run_id)}),
			  "failed");
	// The lease is free again.
	EXPECT_TRUE(std::holds_alternative<Acquired>(c.try_acquire(job)));
}

TEST(Library, StopTokenFiresWhenTheLeaseIsTakenAway)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("lost");
	Config cfg = quick("host-a");
	cfg.ttl = 3s; // heartbeat every second
	Client c(cfg);
	it::Sql sql;
	double stopped_after = -1;
	auto out = c.run(job, [&](const Lease &lease, std::stop_token st) {
		sql.one("SELECT cron_lock_force_release($1, $2::bigint)", {job, std::to_string(lease.token())});
		double t0 = it::now_s();
		it::wait_for([&] { return st.stop_requested(); }, 10);
		stopped_after = it::now_s() - t0;
		return JobResult{RunStatus::cancelled, 143, ""};
	});
	ASSERT_TRUE(std::holds_alternative<LeaseLost>(out));
	EXPECT_EQ(std::get<LeaseLost>(out).why, "heartbeat_null");
	EXPECT_GE(stopped_after, 0.0);
	EXPECT_LT(stopped_after, 2.5); // the first heartbeat (ttl/3) finds it gone
}

TEST(Library, ThreadsShareOneClient)
{
	REQUIRE_DB();
	Client c(quick("host-a"));
	const std::string shared = it::unique_job("shared");
	std::atomic<int> own_ok{0}, shared_won{0}, shared_busy{0};
	std::vector<std::string> own;
	for (int i = 0; i < 8; ++i)
		own.push_back(it::unique_job("own"));
	std::vector<std::thread> threads;
	for (int i = 0; i < 8; ++i)
		threads.emplace_back([&, i] {
			auto mine = c.try_acquire(own[i]);
			if (std::holds_alternative<Acquired>(mine))
				++own_ok;
			auto r = c.try_acquire(shared);
			if (std::holds_alternative<Acquired>(r))
				++shared_won;
			else if (std::holds_alternative<BusyAnswer>(r))
				++shared_busy;
		});
	for (auto &t : threads)
		t.join();
	EXPECT_EQ(own_ok, 8);
	EXPECT_EQ(shared_won, 1);
	EXPECT_EQ(shared_busy, 7);
}

TEST(Library, MissingExtensionIsPermanent)
{
	REQUIRE_DB();
	it::ScratchDb db;
	Config cfg = quick("host-a");
	cfg.conninfo = "dbname=" + db.name();
	cfg.retry.retries = 3;
	Client c(cfg);
	auto r = c.try_acquire(it::unique_job("noext"));
	ASSERT_TRUE(std::holds_alternative<Permanent>(r));
	EXPECT_EQ(std::get<Permanent>(r).error.cls, ErrorClass::extension_missing);
	EXPECT_EQ(std::get<Permanent>(r).error.sqlstate, "42883");
	EXPECT_EQ(std::get<Permanent>(r).tries, 1);
}

TEST(Library, AuthFailureIsPermanentAndTheMessageHasNoPassword)
{
	REQUIRE_DB();
	// A role that does not exist is refused at startup with 28000 whatever pg_hba.conf
	// says (the test cluster trusts loopback, so a wrong password would not be).
	Config cfg = quick("host-a");
	cfg.conninfo = it::tcp_conninfo("cronlock_it_no_such_role", "Wr0ngPassw0rd");
	cfg.retry.retries = 3;
	Client c(cfg);
	auto r = c.try_acquire(it::unique_job("auth"));
	ASSERT_TRUE(std::holds_alternative<Permanent>(r));
	const auto &e = std::get<Permanent>(r).error;
	EXPECT_EQ(e.cls, ErrorClass::auth_failed) << e.message;
	EXPECT_EQ(e.sqlstate, "28000");
	EXPECT_EQ(std::get<Permanent>(r).tries, 1);
	EXPECT_EQ(e.message.find("Wr0ngPassw0rd"), std::string::npos) << e.message;
}

TEST(Library, NoGrantIsPermissionDenied)
{
	REQUIRE_DB();
	it::Sql sql;
	sql.column("DROP ROLE IF EXISTS cronlock_it_nogrant");
	sql.column("CREATE ROLE cronlock_it_nogrant LOGIN");
	Config cfg = quick("host-a");
	cfg.conninfo = "user=cronlock_it_nogrant";
	Client c(cfg);
	auto r = c.try_acquire(it::unique_job("nogrant"));
	ASSERT_TRUE(std::holds_alternative<Permanent>(r));
	EXPECT_EQ(std::get<Permanent>(r).error.cls, ErrorClass::permission_denied)
		<< std::get<Permanent>(r).error.message;
	sql.column("DROP ROLE cronlock_it_nogrant");
}

TEST(Library, BadConninfoIsAValueNotAnException)
{
	Config cfg;
	cfg.conninfo = "host=h password=s3cret nonsense";
	Client c(cfg);
	ASSERT_TRUE(c.config_error());
	EXPECT_EQ(c.config_error()->cls, ErrorClass::bad_conninfo);
	EXPECT_EQ(c.config_error()->message.find("s3cret"), std::string::npos);
	auto out = c.run("job", [](const Lease &, std::stop_token) { return JobResult{}; });
	EXPECT_TRUE(std::holds_alternative<PermanentError>(out));
}

// Two threads, two jobs, one Client and one Logger: each line names its own run's job
// (the context was once one per Logger, set by whichever run started last).
TEST(Library, ConcurrentRunsLogTheirOwnJob)
{
	REQUIRE_DB();
	char path[] = "/tmp/cronlock-it-log-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	Config cfg = quick("host-a");
	cfg.logger = std::make_shared<Logger>(LogFormat::logfmt, false, fd);
	Client c(cfg);
	const std::string a = it::unique_job("log-a"), b = it::unique_job("log-b");
	std::latch both_running(2), a_done(1);
	std::thread ta([&] {
		c.run(a, [&](const Lease &, std::stop_token) {
			both_running.arrive_and_wait();
			return JobResult{};
		});
		a_done.count_down();
	});
	std::thread tb([&] {
		c.run(b, [&](const Lease &, std::stop_token) {
			both_running.arrive_and_wait();
			a_done.wait(); // b's lines come after a's whole run
			return JobResult{};
		});
	});
	ta.join();
	tb.join();
	close(fd);
	std::ifstream f(path);
	std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	unlink(path);
	it::Sql sql;
	auto done = it::tagged(text, "CRON_DONE");
	ASSERT_EQ(done.size(), 2u) << text;
	for (const auto &line : done) {
		auto job = sql.one("SELECT job FROM cron_lock.job_runs WHERE run_id = $1",
						   {it::field(line, "run_id")});
		EXPECT_EQ(it::field(line, "job"), job.value_or("?")) << line;
	}
	EXPECT_EQ(it::tagged(text, "CRON_RUN").size(), 2u) << text;
	for (const auto &tag : {"CRON_BOOT", "CRON_LOCK", "CRON_RUN", "CRON_DONE"}) {
		int na = 0, nb = 0;
		for (const auto &line : it::tagged(text, tag)) {
			na += it::field(line, "job") == a;
			nb += it::field(line, "job") == b;
		}
		EXPECT_EQ(na, 1) << tag << "\n" << text;
		EXPECT_EQ(nb, 1) << tag << "\n" << text;
	}
}

// The Env's clock is the one every deadline is reckoned on, heartbeats included.
TEST(Library, HeartbeatUsesTheInjectedClock)
{
	REQUIRE_DB();
	struct Frozen : Env {
		SteadyClock::time_point t = SteadyClock::now() + std::chrono::hours(1000);
		SteadyClock::time_point now() override { return t; }
		std::uint64_t random_below(std::uint64_t) override { return 0; }
		bool sleep_for(Millis) override { return true; }
	} clock;
	Config cfg = quick("host-a");
	cfg.env = &clock;
	Client c(cfg);
	const std::string job = it::unique_job("clock");
	auto r = c.try_acquire(job);
	ASSERT_TRUE(std::holds_alternative<Acquired>(r));
	const auto &won = std::get<Acquired>(r).answer;
	Lease lease(job, "host-a", *won.run_id, *won.token, SteadyClock::now());
	auto hb = c.heartbeat(lease);
	ASSERT_TRUE(hb && hb->has_value());
	EXPECT_EQ(lease.deadline(), clock.t + cfg.ttl);
	c.release(lease, RunStatus::succeeded);
}
