// Faults, each with its bounded time, log line and exit status: a refused port, a
// black-hole port, a database without the extension, a server restart mid-run, and a
// frozen server mid-run (the lease deadline on the client's clock).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "harness.hpp"

using it::field;
using it::run_cli;
using it::tagged;

namespace {

// A loopback port with nothing listening (bound, never listened on, so nobody else
// gets it while the test runs).
struct ClosedPort {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = 0;
	explicit ClosedPort(bool listen_but_never_accept)
	{
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
		socklen_t len = sizeof a;
		getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
		port = ntohs(a.sin_port);
		if (listen_but_never_accept)
			listen(fd, 64); // the kernel completes handshakes; nobody ever answers
	}
	~ClosedPort() { close(fd); }
	std::string conninfo() const
	{
		return "host=127.0.0.1 port=" + std::to_string(port) + " dbname=postgres user=postgres";
	}
};

std::vector<pid_t> server_pids()
{
	it::Sql sql;
	std::string dir = sql.one("SHOW data_directory").value_or("");
	std::ifstream f(dir + "/postmaster.pid");
	std::string first;
	std::getline(f, first);
	std::vector<pid_t> pids;
	if (first.empty())
		return pids;
	pid_t postmaster = std::stoi(first);
	pids.push_back(postmaster);
	// Its children, from /proc (the backends, checkpointer, walwriter...).
	for (const auto &pid : sql.column("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()"))
		pids.push_back(std::stoi(pid));
	return pids;
}

} // namespace

TEST(Faults, RefusedPortSkipsInBoundedTime)
{
	REQUIRE_DB();
	ClosedPort port(false);
	auto r = run_cli({"run", "--db", port.conninfo(), "--job", it::unique_job("refused"), "--retries",
					  "2", "--backoff", "100ms", "--jitter", "50ms", "--on-unavailable", "9", "--",
					  "true"});
	EXPECT_EQ(r.status, 9) << r.err;
	EXPECT_LT(r.seconds, 2.0);
	auto lock = tagged(r.err, "CRON_LOCK");
	ASSERT_EQ(lock.size(), 3u) << r.err;
	for (const auto &l : lock) {
		EXPECT_EQ(field(l, "outcome"), "error");
		EXPECT_EQ(field(l, "error_class"), "connection_refused") << l;
	}
	auto skip = tagged(r.err, "CRON_SKIP");
	ASSERT_EQ(skip.size(), 1u);
	EXPECT_EQ(field(skip[0], "reason"), "DB_UNAVAILABLE");
	EXPECT_EQ(field(skip[0], "tries"), "3");
	EXPECT_TRUE(tagged(r.err, "CRON_RUN").empty());
	// Quiet mode keeps the skip.
	r = run_cli({"run", "-q", "--db", port.conninfo(), "--job", "q", "--retries", "0", "--", "true"});
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(tagged(r.err, "CRON_SKIP").size(), 1u) << r.err;
	EXPECT_TRUE(tagged(r.err, "CRON_BOOT").empty());
}

TEST(Faults, BlackHolePortTimesOutOnOurDeadline)
{
	REQUIRE_DB();
	ClosedPort hole(true);
	auto r = run_cli({"run", "--db", hole.conninfo(), "--job", it::unique_job("blackhole"),
					  "--connect-timeout", "500ms", "--retries", "1", "--backoff", "100ms", "--jitter",
					  "0", "--on-unavailable", "3", "--", "true"});
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_GT(r.seconds, 1.0);
	EXPECT_LT(r.seconds, 2.5);
	auto lock = tagged(r.err, "CRON_LOCK");
	ASSERT_EQ(lock.size(), 2u) << r.err;
	EXPECT_EQ(field(lock[0], "error_class"), "connect_timeout");
	EXPECT_EQ(field(tagged(r.err, "CRON_SKIP").at(0), "reason"), "DB_UNAVAILABLE");
}

TEST(Faults, MissingExtensionIsPermanent)
{
	REQUIRE_DB();
	it::ScratchDb db;
	auto r = run_cli({"run", "--db", "dbname=" + db.name(), "--job", it::unique_job("noext"), "--", "true"});
	EXPECT_EQ(r.status, 78) << r.err;
	EXPECT_LT(r.seconds, 2.0); // no retries for a permanent error
	auto lock = tagged(r.err, "CRON_LOCK");
	ASSERT_EQ(lock.size(), 1u) << r.err;
	EXPECT_EQ(field(lock[0], "error_class"), "extension_missing");
	EXPECT_EQ(field(lock[0], "sqlstate"), "42883");
	auto s = run_cli({"status", "--db", "dbname=" + db.name()});
	EXPECT_EQ(s.status, 78) << s.err;
	EXPECT_NE(s.err.find("CREATE EXTENSION cron_lock"), std::string::npos) << s.err;
	auto d = run_cli({"doctor", "--db", "dbname=" + db.name()});
	EXPECT_EQ(d.status, 78);
	EXPECT_NE(d.out.find("NOT INSTALLED"), std::string::npos) << d.out;
}

TEST(Faults, ServerRestartMidRun)
{
	REQUIRE_DB();
	it::Sql sql;
	const std::string dir = sql.one("SHOW data_directory").value_or("");
	const std::string job = it::unique_job("restart");
	it::Background b({"run", "--job", job, "--ttl", "6s", "--connect-timeout", "1s", "--", "sleep", "7"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(b.err(), "CRON_RUN").empty(); }, 10)) << b.err();
	std::this_thread::sleep_for(std::chrono::milliseconds(2500)); // a heartbeat went through
	std::string as_owner = getuid() == 0 ? "runuser -u postgres -- " : "";
	std::string cmd = as_owner + "\"$(pg_config --bindir)/pg_ctl\" -D '" + dir +
					  "' -m fast -w -t 60 restart -l '" + dir + "/../server.log' >/dev/null 2>&1";
	ASSERT_EQ(std::system(cmd.c_str()), 0) << "could not restart the server: " << cmd;
	auto r = b.wait(30);
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_TRUE(tagged(r.err, "CRON_LOST").empty()) << r.err;
	auto done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_EQ(field(done[0], "release"), "ok") << r.err;
	it::Sql after;
	EXPECT_EQ(after.one("SELECT status FROM cron_lock.job_runs WHERE job = $1", {job}), "succeeded");
}

TEST(Faults, FrozenServerEndsTheRunBeforeTheLeaseExpires)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("frozen");
	it::Background b({"run", "--job", job, "--ttl", "3s", "--grace", "750ms", "--preflight-timeout",
					  "300ms", "--connect-timeout", "300ms", "--retries", "0", "--", "sleep", "30"},
					 {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(b.err(), "CRON_RUN").empty(); }, 10)) << b.err();
	double t_run = it::now_s();
	auto pids = server_pids();
	ASSERT_FALSE(pids.empty());
	for (pid_t p : pids)
		ASSERT_EQ(kill(p, SIGSTOP), 0) << "cannot stop server process " << p;
	auto r = b.wait(20);
	for (pid_t p : pids)
		kill(p, SIGCONT);
	EXPECT_EQ(r.status, 75) << r.err;
	auto lost = tagged(r.err, "CRON_LOST");
	ASSERT_EQ(lost.size(), 1u) << r.err;
	EXPECT_EQ(field(lost[0], "why"), "no_renewal");
	// SIGTERM at deadline - grace = 2.25s after the try at the latest; release attempts
	// against the frozen server are bounded by the connect timeout.
	EXPECT_LT(it::now_s() - t_run, 3.0 + 3 * 0.3 + 1.5) << r.err;
	EXPECT_EQ(field(tagged(r.err, "CRON_DONE").at(0), "release"), "failed") << r.err;
}

// SIGTERM 0.5 s into a connect that would take 5 s: the wait ends at once, the run is
// skipped as cancelled, exit 128+SIGTERM; a signal during a retry sleep does the same.
TEST(Faults, SigtermWhileConnectingCancels)
{
	REQUIRE_DB();
	ClosedPort port(true);
	for (const char *retries : {"0", "3"}) {
		it::Background b({"run", "--db", port.conninfo(), "--job", it::unique_job("sigconnect"),
						  "--connect-timeout", retries[0] == '0' ? "5s" : "100ms", "--retries", retries,
						  "--backoff", "5s", "--", "true"},
						 {});
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		double t0 = it::now_s();
		kill(b.pid(), SIGTERM);
		auto r = b.wait(15);
		EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;
		EXPECT_LT(it::now_s() - t0, 1.0) << r.err;
		auto skip = tagged(r.err, "CRON_SKIP");
		ASSERT_EQ(skip.size(), 1u) << r.err;
		EXPECT_EQ(field(skip[0], "reason"), "CANCELLED") << r.err;
		EXPECT_TRUE(tagged(r.err, "CRON_RUN").empty()) << r.err;
	}
}
