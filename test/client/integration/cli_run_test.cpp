// `cronlock run` end to end: lease in the environment, log lines, exit statuses,
// busy and too_soon, twenty runners at once, signals, lease loss, parent death.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "harness.hpp"

using it::field;
using it::run_cli;
using it::tagged;

namespace {

std::string run_status(const std::string &run_id)
{
	it::Sql sql;
	return sql.one("SELECT status FROM cron_lock.job_runs WHERE run_id = $1", {run_id}).value_or("");
}

std::string last_status(const std::string &job)
{
	it::Sql sql;
	return sql.one("SELECT status FROM cron_lock.job_runs WHERE job = $1 ORDER BY run_id DESC LIMIT 1", {job})
		.value_or("");
}

std::string read_file(const std::string &path)
{
	std::ifstream f(path);
	std::string s;
	std::getline(f, s);
	return s;
}

} // namespace

TEST(CliRun, ExportsTheLeaseAndLogsEveryStep)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("normal");
	auto r = run_cli({"run", "--job", job, "--instance", "runner-1", "--",
					  "sh", "-c", "echo \"$CRONLOCK_JOB|$CRONLOCK_RUN_ID|$CRONLOCK_TOKEN|$CRONLOCK_INSTANCE\""});
	ASSERT_EQ(r.status, 0) << r.err;
	auto boot = tagged(r.err, "CRON_BOOT"), lock = tagged(r.err, "CRON_LOCK"),
		 run = tagged(r.err, "CRON_RUN"), done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(boot.size(), 1u) << r.err;
	ASSERT_EQ(lock.size(), 1u) << r.err;
	ASSERT_EQ(run.size(), 1u) << r.err;
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_LT(r.err.find("[CRON_BOOT]"), r.err.find("[CRON_LOCK]"));
	EXPECT_LT(r.err.find("[CRON_LOCK]"), r.err.find("[CRON_RUN]"));
	EXPECT_LT(r.err.find("[CRON_RUN]"), r.err.find("[CRON_DONE]"));
	for (const auto &line : {boot[0], lock[0], run[0], done[0]}) {
		EXPECT_EQ(field(line, "job"), job);
		EXPECT_EQ(field(line, "instance"), "runner-1");
		EXPECT_FALSE(field(line, "ts").empty());
		EXPECT_FALSE(field(line, "pid").empty());
	}
	EXPECT_EQ(field(boot[0], "attempt").size(), 36u);
	EXPECT_FALSE(field(boot[0], "version").empty());
	EXPECT_EQ(field(lock[0], "try"), "1");
	EXPECT_EQ(field(lock[0], "outcome"), "acquired");
	EXPECT_FALSE(field(lock[0], "elapsed_ms").empty());
	EXPECT_FALSE(field(lock[0], "backend_pid").empty());
	const std::string run_id = field(run[0], "run_id"), token = field(run[0], "token");
	EXPECT_EQ(r.out, job + "|" + run_id + "|" + token + "|runner-1\n");
	EXPECT_EQ(field(done[0], "status"), "succeeded");
	EXPECT_EQ(field(done[0], "exit_code"), "0");
	EXPECT_EQ(run_status(run_id), "succeeded");
}

TEST(CliRun, ExitStatusPassThrough)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("status");
	auto r = run_cli({"run", "--job", job, "--", "sh", "-c", "exit 3"});
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_EQ(last_status(job), "failed");

	r = run_cli({"run", "--job", job, "--", "sh", "-c", "kill -KILL $$"});
	EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
	EXPECT_EQ(last_status(job), "failed");

	r = run_cli({"run", "--job", job, "--", "/nonexistent/command"});
	EXPECT_EQ(r.status, 127) << r.err;
	EXPECT_EQ(last_status(job), "failed");
	r = run_cli({"run", "--job", job, "--", "no-such-command-on-path-xyz"});
	EXPECT_EQ(r.status, 127) << r.err;

	std::string path = "/tmp/cronlock-it-noexec-" + std::to_string(getpid());
	std::ofstream(path) << "#!/bin/sh\nexit 0\n";
	chmod(path.c_str(), 0644);
	r = run_cli({"run", "--job", job, "--", path});
	EXPECT_EQ(r.status, 126) << r.err;
	EXPECT_EQ(last_status(job), "failed");
	unlink(path.c_str());

	r = run_cli({"run", "--job", job, "-q", "--", "true"});
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.err, ""); // quiet: nothing to report
}

TEST(CliRun, BusyAndTooSoon)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("busy");
	it::Background holder({"run", "--job", job, "--instance", "holder", "--", "sleep", "30"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(holder.err(), "CRON_RUN").empty(); }, 10)) << holder.err();

	auto r = run_cli({"run", "--job", job, "--instance", "second", "--on-busy", "7", "--", "true"});
	EXPECT_EQ(r.status, 7) << r.err;
	auto skip = tagged(r.err, "CRON_SKIP");
	ASSERT_EQ(skip.size(), 1u) << r.err;
	EXPECT_EQ(field(skip[0], "reason"), "BUSY");
	EXPECT_EQ(field(skip[0], "holder"), "holder");
	EXPECT_TRUE(tagged(r.err, "CRON_RUN").empty());
	r = run_cli({"run", "--job", job, "--", "true"}); // default --on-busy 0
	EXPECT_EQ(r.status, 0);
	kill(holder.pid(), SIGTERM);
	holder.wait(15);

	const std::string gap = it::unique_job("gap");
	r = run_cli({"run", "--job", gap, "--min-gap", "1h", "--", "true"});
	ASSERT_EQ(r.status, 0) << r.err;
	r = run_cli({"run", "--job", gap, "--min-gap", "1h", "--on-busy", "5", "--", "true"});
	EXPECT_EQ(r.status, 5) << r.err;
	skip = tagged(r.err, "CRON_SKIP");
	ASSERT_EQ(skip.size(), 1u) << r.err;
	EXPECT_EQ(field(skip[0], "reason"), "TOO_SOON");
}

TEST(CliRun, TwentyRunnersOneRuns)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("twenty");
	std::vector<std::unique_ptr<it::Background>> runners;
	for (int i = 0; i < 20; ++i)
		runners.push_back(std::make_unique<it::Background>(
			std::vector<std::string>{"run", "--job", job, "--instance", "r" + std::to_string(i),
									 "--", "sleep", "2"},
			it::EnvList{}));
	int ran = 0, skipped = 0;
	for (auto &b : runners) {
		auto r = b->wait(60);
		EXPECT_EQ(r.status, 0) << r.err;
		ran += static_cast<int>(tagged(r.err, "CRON_RUN").size());
		for (const auto &s : tagged(r.err, "CRON_SKIP"))
			skipped += field(s, "reason") == "BUSY";
	}
	EXPECT_EQ(ran, 1);
	EXPECT_EQ(skipped, 19);
	it::Sql sql;
	EXPECT_EQ(sql.one("SELECT count(*) FROM cron_lock.job_runs WHERE job = $1", {job}), "1");
	auto dup = run_cli({"duplicates", "--json", "--since", "1h"});
	ASSERT_EQ(dup.status, 0) << dup.err;
	auto at = dup.out.find("\"job\": \"" + job + "\"");
	ASSERT_NE(at, std::string::npos) << dup.out;
	EXPECT_NE(dup.out.find("\"instances\": 20", at), std::string::npos) << dup.out;
}

TEST(CliRun, JsonLogsParse)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("json \"quoted\"");
	auto r = run_cli({"run", "--job", job, "--log-format", "json", "--", "true"});
	ASSERT_EQ(r.status, 0) << r.err;
	std::string path = "/tmp/cronlock-it-json-" + std::to_string(getpid());
	std::ofstream(path) << r.err;
	std::string check = "python3 -c 'import json,sys\n"
						"tags=[json.loads(l)[\"tag\"] for l in open(sys.argv[1])]\n"
						"assert tags==[\"CRON_BOOT\",\"CRON_LOCK\",\"CRON_RUN\",\"CRON_DONE\"], tags\n"
						"assert all(json.loads(l)[\"job\"]==sys.argv[2] for l in open(sys.argv[1]))' " +
						path + " '" + job + "'";
	EXPECT_EQ(std::system(check.c_str()), 0) << r.err;
	unlink(path.c_str());
	for (const char *sub : {"status", "runs", "doctor"}) {
		auto a = run_cli({sub, "--json"});
		ASSERT_EQ(a.status, 0) << sub << a.err;
		std::ofstream(path) << a.out;
		std::string cmd = "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' " + path;
		EXPECT_EQ(std::system(cmd.c_str()), 0) << sub << ": " << a.out;
	}
	unlink(path.c_str());
}

TEST(CliRun, SigtermIsForwardedAndTheRunCancelled)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("sigterm");
	std::string pidfile = "/tmp/cronlock-it-pid-" + std::to_string(getpid());
	unlink(pidfile.c_str());
	it::Background b({"run", "--job", job, "--", "sh", "-c", "echo $$ > " + pidfile + "; exec sleep 30"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !read_file(pidfile).empty(); }, 10)) << b.err();
	pid_t child = std::stoi(read_file(pidfile));
	kill(b.pid(), SIGTERM);
	auto r = b.wait(10);
	EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;
	EXPECT_LT(r.seconds, 5);
	EXPECT_FALSE(it::process_alive(child));
	auto done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_EQ(field(done[0], "status"), "cancelled");
	EXPECT_EQ(last_status(job), "cancelled");
	unlink(pidfile.c_str());
}

TEST(CliRun, ForceReleaseMidRunKillsTheCommand)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("force");
	std::string pidfile = "/tmp/cronlock-it-pid-" + std::to_string(getpid());
	unlink(pidfile.c_str());
	// The command ignores SIGTERM: only the SIGKILL `grace` later ends it.
	it::Background b({"run", "--job", job, "--ttl", "3s", "--grace", "500ms", "--", "sh", "-c",
					  "trap '' TERM; echo $$ > " + pidfile + "; while :; do sleep 0.1; done"},
					 {});
	ASSERT_TRUE(it::wait_for([&] { return !read_file(pidfile).empty(); }, 10)) << b.err();
	pid_t child = std::stoi(read_file(pidfile));
	auto out = run_cli({"release", "--job", job, "--force"});
	EXPECT_EQ(out.status, 0) << out.err;
	double t0 = it::now_s();
	auto r = b.wait(15);
	EXPECT_EQ(r.status, 75) << r.err;
	EXPECT_LT(it::now_s() - t0, 3.0); // next heartbeat (<= ttl/3) + grace
	auto lost = tagged(r.err, "CRON_LOST");
	ASSERT_EQ(lost.size(), 1u) << r.err;
	EXPECT_EQ(field(lost[0], "why"), "heartbeat_null");
	EXPECT_FALSE(it::process_alive(child));
	EXPECT_EQ(field(tagged(r.err, "CRON_DONE").at(0), "status"), "lost");
	unlink(pidfile.c_str());
}

TEST(CliRun, CommandDiesWithCronlock)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("pdeath");
	std::string pidfile = "/tmp/cronlock-it-pid-" + std::to_string(getpid());
	unlink(pidfile.c_str());
	it::Background b({"run", "--job", job, "--", "sh", "-c", "echo $$ > " + pidfile + "; exec sleep 30"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !read_file(pidfile).empty(); }, 10)) << b.err();
	pid_t child = std::stoi(read_file(pidfile));
	kill(b.pid(), SIGKILL);
	b.wait(5);
	EXPECT_TRUE(it::wait_for([&] { return !it::process_alive(child); }, 3));
	unlink(pidfile.c_str());
}

TEST(CliRun, PasswordsAreNeverPrinted)
{
	REQUIRE_DB();
	// No such role: refused at startup (28000) whatever pg_hba.conf trusts.
	const std::string secret = "Sup3rS3cretPw";
	const std::string job = it::unique_job("pw");
	for (const std::string &db :
		 {it::tcp_conninfo("cronlock_it_no_such_role", secret),
		  "postgresql://cronlock_it_no_such_role:" + secret + "@127.0.0.1:" + std::getenv("PGPORT") + "/postgres",
		  "host=127.0.0.1 password=" + secret + " this is not a conninfo"}) {
		auto r = run_cli({"run", "--db", db, "--job", job, "--", "true"});
		EXPECT_EQ(r.status, 78) << r.err;
		EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
		EXPECT_EQ(r.out.find(secret), std::string::npos) << r.out;
		auto d = run_cli({"doctor", "--db", db});
		EXPECT_EQ(d.status, 78) << d.err;
		EXPECT_EQ((d.out + d.err).find(secret), std::string::npos) << d.out << d.err;
	}
	auto r = run_cli({"run", "--db", it::tcp_conninfo("cronlock_it_no_such_role", secret), "--job", job, "--", "true"});
	auto lock = tagged(r.err, "CRON_LOCK");
	ASSERT_FALSE(lock.empty()) << r.err;
	EXPECT_EQ(field(lock[0], "error_class"), "auth_failed");
	EXPECT_EQ(field(lock[0], "sqlstate"), "28000");
}

TEST(CliAdmin, StatusRunsRelease)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("admin");
	it::Background b({"run", "--job", job, "--ttl", "3s", "--", "sleep", "30"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(b.err(), "CRON_RUN").empty(); }, 10)) << b.err();
	auto s = run_cli({"status"});
	ASSERT_EQ(s.status, 0) << s.err;
	EXPECT_NE(s.out.find("job"), std::string::npos);
	EXPECT_NE(s.out.find(job), std::string::npos) << s.out;
	auto runs = run_cli({"runs", "--job", job, "--limit", "1", "--json"});
	ASSERT_EQ(runs.status, 0) << runs.err;
	EXPECT_NE(runs.out.find("\"status\": \"running\""), std::string::npos) << runs.out;
	EXPECT_EQ(run_cli({"release", "--job", job}).status, 64);
	EXPECT_EQ(run_cli({"release", "--job", job, "--force"}).status, 0);
	EXPECT_EQ(run_cli({"release", "--job", job, "--force"}).status, 1); // nothing left
	auto r = b.wait(30);
	EXPECT_EQ(r.status, 75);
}
