// `cronlock run` end to end: lease in the environment, log lines, exit statuses,
// busy and too_soon, twenty runners at once, signals, lease loss, parent death.
#include <signal.h>
#include <sys/stat.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
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

	// -q still reports a COMMAND that cannot run: cron mails only output.
	r = run_cli({"run", "--job", job, "-q", "--", "/nonexistent"});
	EXPECT_EQ(r.status, 127) << r.err;
	auto done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_EQ(field(done[0], "status"), "failed");
	EXPECT_NE(field(done[0], "message").find("cannot execute /nonexistent"), std::string::npos) << r.err;

	// A script without #! runs through /bin/sh, as execvp and flock(1) do.
	std::ofstream(path) << "echo \"ran $1\"\nexit 5\n";
	chmod(path.c_str(), 0755);
	r = run_cli({"run", "--job", job, "--", path, "with-arg"});
	EXPECT_EQ(r.status, 5) << r.err;
	EXPECT_EQ(r.out, "ran with-arg\n");
	unlink(path.c_str());
}

// What COMMAND leaves behind is stopped before the release, and counted.
TEST(CliRun, NoDescendantOutlivesTheRelease)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("leftover");
	std::string pidfile = "/tmp/cronlock-it-pid-" + std::to_string(getpid());
	unlink(pidfile.c_str());
	auto r = run_cli({"run", "--job", job, "--", "sh", "-c", "sleep 33 & echo $! >" + pidfile + "; exit 0"});
	ASSERT_EQ(r.status, 0) << r.err;
	ASSERT_FALSE(read_file(pidfile).empty());
	pid_t leftover = std::stoi(read_file(pidfile));
	EXPECT_FALSE(it::process_alive(leftover)); // already when cronlock has exited
	auto done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_EQ(field(done[0], "status"), "succeeded");
	EXPECT_NE(field(done[0], "message").find("stopped 1 process"), std::string::npos) << r.err;
	EXPECT_EQ(last_status(job), "succeeded");
	if (it::process_alive(leftover))
		kill(leftover, SIGKILL);
	unlink(pidfile.c_str());
}

// kill -9 of cronlock: its keeper kills the tree, also a member whose credentials
// changed (the kernel clears a parent-death signal on a credential change).
TEST(CliRun, KillNineLeavesNoDescendant)
{
	REQUIRE_DB();
	if (geteuid() != 0)
		GTEST_SKIP() << "setpriv --reuid needs root";
	const std::string job = it::unique_job("kill9-setpriv");
	std::string pidfile = "/tmp/cronlock-it-pid-" + std::to_string(getpid());
	unlink(pidfile.c_str());
	it::Background b({"run", "--job", job, "--", "setpriv", "--reuid=65534", "--regid=65534",
					  "--clear-groups", "sh", "-c", "echo $$ >" + pidfile + "; exec sleep 60"},
					 {});
	ASSERT_TRUE(it::wait_for([&] { return !read_file(pidfile).empty(); }, 10)) << b.err();
	pid_t sleeper = std::stoi(read_file(pidfile));
	ASSERT_TRUE(it::process_alive(sleeper));
	kill(b.pid(), SIGKILL);
	b.wait(5);
	EXPECT_TRUE(it::wait_for([&] { return !it::process_alive(sleeper); }, 3));
	if (it::process_alive(sleeper))
		kill(sleeper, SIGKILL);
	unlink(pidfile.c_str());
}

// kill -9 of the keeper: COMMAND dies with it, cronlock (a subreaper too) kills the
// orphans and still releases the run.
TEST(CliRun, KillNineOfTheKeeperLeavesNoDescendant)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("kill9-keeper");
	std::string pidfile = "/tmp/cronlock-it-pid-" + std::to_string(getpid());
	unlink(pidfile.c_str());
	it::Background b({"run", "--job", job, "--", "sh", "-c",
					  "sleep 61 & echo \"$PPID $!\" >" + pidfile + "; wait"},
					 {});
	ASSERT_TRUE(it::wait_for([&] { return !read_file(pidfile).empty(); }, 10)) << b.err();
	pid_t keeper = 0, sleeper = 0;
	std::sscanf(read_file(pidfile).c_str(), "%d %d", &keeper, &sleeper);
	ASSERT_GT(sleeper, 0);
	ASSERT_NE(keeper, b.pid());
	kill(keeper, SIGKILL);
	auto r = b.wait(10);
	EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
	EXPECT_FALSE(it::process_alive(sleeper));
	EXPECT_EQ(last_status(job), "failed");
	if (it::process_alive(sleeper))
		kill(sleeper, SIGKILL);
	unlink(pidfile.c_str());
}

// SIGUSR1, SIGUSR2 and SIGALRM go to COMMAND; SIGPIPE is ignored; none of them ends
// cronlock without its release and [CRON_DONE].
TEST(CliRun, OtherSignalsArePassedOnOrIgnored)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("usr1");
	std::string dir = "/tmp/cronlock-it-sig-" + std::to_string(getpid());
	const std::string got = dir + ".got";
	std::string cmd = "n=0; for s in USR1 USR2 ALRM; do trap \"echo $s >>" + got +
					  "; n=\\$((n+1))\" $s; done; echo $$ >" + dir +
					  ".pid; i=0; while [ $n -lt 3 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done";
	unlink((dir + ".got").c_str());
	unlink((dir + ".pid").c_str());
	it::Background b({"run", "--job", job, "--", "sh", "-c", cmd}, {});
	ASSERT_TRUE(it::wait_for([&] { return !read_file(dir + ".pid").empty(); }, 10)) << b.err();
	for (int sig : {SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM}) {
		kill(b.pid(), sig);
		std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the traps run one at a time
	}
	auto r = b.wait(15);
	EXPECT_EQ(r.status, 0) << r.err;
	std::ifstream in(got);
	std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	EXPECT_EQ(all, "USR1\nUSR2\nALRM\n");
	auto done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_EQ(field(done[0], "status"), "succeeded");
	unlink((dir + ".got").c_str());
	unlink((dir + ".pid").c_str());
}

// COMMAND gets CRONLOCK_DB without its password (DATABASE_URL untouched) and the signal
// mask cronlock inherited.
TEST(CliRun, CommandEnvironmentAndSignalMask)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("env");
	const std::string db = it::tcp_conninfo("postgres", "Pw4Cronlock");
	const std::string url = "postgresql://app:AppPw@db.example/app";
	auto r = run_cli({"run", "--job", job, "--", "env"}, {{"CRONLOCK_DB", db}, {"DATABASE_URL", url}});
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out.find("Pw4Cronlock"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("CRONLOCK_DB=user='postgres'"), std::string::npos) << r.out; // the rest kept
	EXPECT_NE(r.out.find("host='127.0.0.1'"), std::string::npos) << r.out;
	EXPECT_NE(r.out.find("DATABASE_URL=" + url + "\n"), std::string::npos) << r.out;

	// cronlock inherits the mask of the thread that forks it here.
	sigset_t usr2, old;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, &old);
	it::Background b({"run", "--job", job, "--", "grep", "SigBlk", "/proc/self/status"}, {});
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	r = b.wait(30);
	ASSERT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(r.out, "SigBlk:\t0000000000000800\n"); // SIGUSR2 only
}

// A COMMAND that reads the terminal gets it when cronlock has it (python's pty module
// gives cronlock a terminal of its own, in the foreground); when cronlock is in the
// background, the stopped COMMAND ends the run with a clear message, lease released.
TEST(CliRun, CommandThatReadsTheTerminal)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("tty");
	std::string py = R"(
import os, pty, select, sys, time
bg = sys.argv[1] == "bg"
pid, fd = pty.fork()
if pid == 0:
    if bg:  # cronlock in a group of its own, not the terminal's foreground group
        child = os.fork()
        if child:
            os._exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) & 255)
        os.setpgid(0, 0)
    os.execv(sys.argv[2], sys.argv[2:])
os.write(fd, b"hello\n")
out, end = b"", time.time() + 20
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    elif os.waitpid(pid, os.WNOHANG)[0]:
        break
else:
    os.kill(pid, 9)
    print("hung")
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace") + "\nstatus=%d\n" % os.waitstatus_to_exitcode(st))
)";
	auto run = [&](const char *mode) {
		std::string path = "/tmp/cronlock-it-pty-" + std::to_string(getpid()) + ".py";
		std::ofstream(path) << py;
		std::string cmd = "python3 " + path + " " + mode + " '" + it::cronlock_binary() + "' run --job " + job +
						  " -- sh -c 'read line; echo \"got:$line\"'";
		FILE *p = popen(cmd.c_str(), "r");
		std::string out;
		char buf[512];
		while (p && fgets(buf, sizeof buf, p))
			out += buf;
		if (p)
			pclose(p);
		unlink(path.c_str());
		return out;
	};
	std::string fg = run("fg");
	EXPECT_NE(fg.find("got:hello"), std::string::npos) << fg;
	EXPECT_NE(fg.find("status=0"), std::string::npos) << fg;
	EXPECT_EQ(last_status(job), "succeeded");

	std::string bg = run("bg");
	EXPECT_EQ(bg.find("hung"), std::string::npos) << bg;
	EXPECT_NE(bg.find("SIGTTIN"), std::string::npos) << bg;
	EXPECT_EQ(last_status(job), "failed");
}

// A signal that comes while cron_lock_try is in flight (it waits for a table lock
// here) is seen once the lease is won: released as cancelled, COMMAND never started.
TEST(CliRun, SignalPendingWhenTheLeaseIsWon)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("pending");
	std::string marker = "/tmp/cronlock-it-ran-" + std::to_string(getpid());
	unlink(marker.c_str());
	it::Sql holder;
	holder.one("BEGIN");
	holder.one("LOCK TABLE cron_lock.leases IN ACCESS EXCLUSIVE MODE");
	it::Background b({"run", "--job", job, "--preflight-timeout", "20s", "--", "touch", marker}, {});
	it::Sql watch;
	ASSERT_TRUE(it::wait_for([&] {
		return watch.one("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cronlock' "
						 "AND wait_event_type = 'Lock'") == "1";
	}, 10)) << b.err();
	kill(b.pid(), SIGTERM);
	std::this_thread::sleep_for(std::chrono::milliseconds(200)); // the signal is pending
	holder.one("COMMIT");
	auto r = b.wait(15);
	EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;
	EXPECT_EQ(access(marker.c_str(), F_OK), -1) << "COMMAND ran";
	auto done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_EQ(field(done[0], "status"), "cancelled");
	EXPECT_NE(field(done[0], "message").find("before COMMAND started"), std::string::npos) << r.err;
	EXPECT_EQ(last_status(job), "cancelled");
	unlink(marker.c_str());
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
	// The one that wins holds its lease until the other 19 have been answered busy, however
	// slowly they start (a loaded machine, a sanitizer build): no sleep decides the outcome.
	const std::string flag = "/tmp/cronlock-it-twenty-" + std::to_string(getpid());
	std::remove(flag.c_str());
	std::vector<std::unique_ptr<it::Background>> runners;
	for (int i = 0; i < 20; ++i)
		runners.push_back(std::make_unique<it::Background>(
			std::vector<std::string>{"run", "--job", job, "--instance", "r" + std::to_string(i),
									 "--", "sh", "-c", "while [ ! -e '" + flag + "' ]; do sleep 0.05; done"},
			it::EnvList{}));
	{
		it::Sql watch;
		const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
		while (watch.one("SELECT count(DISTINCT instance) FROM (SELECT instance FROM cron_lock.contention"
						  " WHERE job = $1 UNION ALL SELECT instance FROM cron_lock.contention_hourly"
						  " WHERE job = $1) busy",
						 {job}) != "19" &&
			   std::chrono::steady_clock::now() < give_up)
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	std::ofstream(flag).put('\n');
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
	std::remove(flag.c_str());
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
