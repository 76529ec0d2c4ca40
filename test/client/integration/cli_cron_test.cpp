// `cronlock run` from cron (issue 16): --max-runtime, --alert-after, --notify, --log-to,
// the syslog socket, a missing extension's hint, and the 1.2 server calls (declare,
// report, skips, paused), which degrade to one warning on a 1.1 server.
#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "harness.hpp"

using it::field;
using it::run_cli;
using it::tagged;

namespace {

std::string slurp(const std::string &path)
{
	std::ifstream f(path);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

std::string temp_name(const std::string &what)
{
	static int n = 0;
	return "/tmp/cronlock-cron-it-" + std::to_string(getpid()) + "-" + std::to_string(++n) + "-" + what;
}

bool server_has(const std::string &function)
{
	it::Sql sql;
	return sql.one("SELECT count(*) FROM pg_proc WHERE proname = $1", {function}).value_or("0") != "0";
}

std::string last_run(const std::string &job, const std::string &column)
{
	it::Sql sql;
	return sql.one("SELECT " + column + " FROM cron_lock.job_runs WHERE job = $1 ORDER BY run_id DESC LIMIT 1",
				   {job})
		.value_or("");
}

const std::string unreachable = "host=127.0.0.1 port=1 connect_timeout=2";

} // namespace

// A job that ignores SIGTERM: stopped at --max-runtime, SIGKILLed after the grace,
// released as failed, exit 124, anomaly max_runtime (or one warning on a 1.1 server).
TEST(CliCron, MaxRuntimeStopsAHungJob)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("maxrt");
	double t0 = it::now_s();
	auto r = run_cli({"run", "--job", job, "--ttl", "6s", "--grace", "500ms", "--max-runtime", "1s", "--",
					  "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"},
					 {}, 30);
	EXPECT_EQ(r.status, 124) << r.err;
	EXPECT_LT(it::now_s() - t0, 5.0) << r.err;
	auto done = tagged(r.err, "CRON_DONE");
	ASSERT_EQ(done.size(), 1u) << r.err;
	EXPECT_EQ(field(done[0], "status"), "failed");
	EXPECT_EQ(field(done[0], "exit_code"), "124");
	EXPECT_EQ(last_run(job, "status"), "failed");
	EXPECT_NE(last_run(job, "message").find("--max-runtime"), std::string::npos);
	if (server_has("cron_lock_report")) {
		it::Sql sql;
		EXPECT_EQ(sql.one("SELECT count(*) FROM cron_lock.anomalies WHERE job = $1 AND kind = 'max_runtime'",
						  {job}),
				  "1");
		EXPECT_TRUE(tagged(r.err, "CRON_WARN").empty()) << r.err;
	} else {
		auto warn = tagged(r.err, "CRON_WARN");
		ASSERT_EQ(warn.size(), 1u) << r.err;
		EXPECT_EQ(field(warn[0], "what"), "report");
	}
}

// The lease is lost before --max-runtime passes: the loss decides (75).
TEST(CliCron, LostBeforeMaxRuntimeIs75)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("lostfirst");
	it::Background b({"run", "--job", job, "--ttl", "3s", "--grace", "500ms", "--max-runtime", "20s", "--",
					  "sleep", "30"},
					 {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(b.err(), "CRON_RUN").empty(); }, 10)) << b.err();
	EXPECT_EQ(run_cli({"release", "--job", job, "--force"}).status, 0);
	auto r = b.wait(15);
	EXPECT_EQ(r.status, 75) << r.err;
	EXPECT_EQ(tagged(r.err, "CRON_LOST").size(), 1u) << r.err;
	EXPECT_EQ(field(tagged(r.err, "CRON_DONE").at(0), "status"), "lost");
	EXPECT_EQ(r.seconds < 10, true);
}

// --alert-after 2: the 1st unavailable skip is --on-unavailable, the 2nd and 3rd are
// alerts with 69; a run that reaches the database resets the count.
TEST(CliCron, AlertAfterEscalatesAndContactResets)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("alertafter");
	const std::string dir = temp_name("state");
	it::EnvList env{{"CRONLOCK_STATE_DIR", dir}};
	auto down = [&] {
		return run_cli({"run", "--job", job, "--db", unreachable, "--retries", "0", "--alert-after", "2",
						"--on-unavailable", "3", "--", "true"},
					   env);
	};
	auto r = down();
	EXPECT_EQ(r.status, 3) << r.err;
	EXPECT_TRUE(tagged(r.err, "CRON_ALERT").empty()) << r.err;
	r = down();
	EXPECT_EQ(r.status, 69) << r.err;
	auto alert = tagged(r.err, "CRON_ALERT");
	ASSERT_EQ(alert.size(), 1u) << r.err;
	EXPECT_EQ(field(alert[0], "event"), "db_unavailable");
	EXPECT_EQ(field(alert[0], "consecutive"), "2");
	EXPECT_LT(r.err.find("[CRON_SKIP]"), r.err.find("[CRON_ALERT]"));
	EXPECT_EQ(down().status, 69);
	r = run_cli({"run", "--job", job, "--alert-after", "2", "--", "true"}, env);
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(down().status, 3); // counting from 1 again
	int ignored = std::system(("rm -rf '" + dir + "'").c_str());
	(void)ignored;
}

// --notify runs for an alert with the event in CRONLOCK_EVENT* and the password-free
// CRONLOCK_DB; not for a normal run.
TEST(CliCron, NotifySeesTheEvent)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("notify");
	const std::string out = temp_name("notify");
	const std::string notify = "env | grep '^CRONLOCK_' | sort > " + out;
	auto r = run_cli({"run", "--job", job, "--notify", notify, "--", "true"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_NE(access(out.c_str(), F_OK), 0) << "notified for a normal run";
	r = run_cli({"run", "--job", job, "--notify", notify, "--", "/nonexistent/cmd"},
				{{"CRONLOCK_INSTANCE", "host-n"}});
	EXPECT_EQ(r.status, 127) << r.err;
	const std::string env = slurp(out); // finish_notify waited for it
	EXPECT_NE(env.find("CRONLOCK_EVENT=command_not_found\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_JOB=" + job + "\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_INSTANCE=host-n\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_EXIT_CODE=127\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_TAG=CRON_DONE\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_LINE=[CRON_DONE] "), std::string::npos) << env;
	unlink(out.c_str());
}

// --log-to FILE, stderr not a terminal: a normal run and a busy skip print nothing on
// stderr; a failed run prints its lines, the alert last.
TEST(CliCron, LogToFileQuietUnlessAlert)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("logfile");
	const std::string file = temp_name("log");
	auto r = run_cli({"run", "--log-to", file, "--job", job, "--", "true"});
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.err, "");
	EXPECT_EQ(tagged(slurp(file), "CRON_DONE").size(), 1u) << slurp(file);

	it::Background holder({"run", "--job", job, "--", "sleep", "30"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(holder.err(), "CRON_RUN").empty(); }, 10)) << holder.err();
	r = run_cli({"run", "--log-to", file, "--job", job, "--", "true"});
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.err, "") << "a busy skip printed something";
	EXPECT_EQ(tagged(slurp(file), "CRON_SKIP").size(), 1u);
	kill(holder.pid(), SIGTERM);
	holder.wait(15);

	r = run_cli({"run", "--log-to", file, "--job", job, "--", "sh", "-c", "exit 4"});
	EXPECT_EQ(r.status, 4);
	EXPECT_LT(r.err.find("[CRON_BOOT]"), r.err.find("[CRON_RUN]")) << r.err;
	EXPECT_LT(r.err.find("[CRON_RUN]"), r.err.find("[CRON_DONE]")) << r.err;
	unlink(file.c_str());
}

// --log-to auto without a terminal, with a syslog socket: every line a datagram with
// ident cronlock, nothing on stderr for a normal run; a lost lease is on stderr.
TEST(CliCron, AutoUsesTheSyslogSocket)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("syslog");
	const std::string path = temp_name("sock");
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::strcpy(sa.sun_path, path.c_str());
	ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa), 0);
	it::EnvList env{{"CRONLOCK_SYSLOG_SOCKET", path}};
	auto r = run_cli({"run", "--log-to", "auto", "--job", job, "--", "true"}, env);
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.err, "");
	std::string got;
	char buf[65536];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
		got.append(buf, static_cast<std::size_t>(n)).append("\n");
	EXPECT_NE(got.find("cronlock["), std::string::npos) << got;
	EXPECT_NE(got.find("[CRON_DONE] "), std::string::npos) << got;
	EXPECT_EQ(got.rfind("<14>", 0), 0u) << got; // user.info

	it::Background b({"run", "--log-to", "auto", "--job", job, "--ttl", "3s", "--grace", "500ms", "--",
					  "sleep", "30"},
					 env);
	ASSERT_TRUE(it::wait_for([&] {
		while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
			got.append(buf, static_cast<std::size_t>(n)).append("\n");
		return got.find("[CRON_RUN] ") != std::string::npos &&
			   std::count(got.begin(), got.end(), '\n') >= 7; // the 2nd run's BOOT, LOCK, RUN
	}, 10)) << got;
	EXPECT_EQ(run_cli({"release", "--job", job, "--force"}).status, 0);
	r = b.wait(15);
	EXPECT_EQ(r.status, 75);
	EXPECT_LT(r.err.find("[CRON_BOOT]"), r.err.find("[CRON_LOST]")) << r.err;
	close(fd);
	unlink(path.c_str());
}

// The extension is missing: 78 and how to install it.
TEST(CliCron, MissingExtensionSaysHowToInstall)
{
	REQUIRE_DB();
	it::ScratchDb scratch;
	auto r = run_cli({"run", "--job", it::unique_job("noext"), "--db", "dbname=" + scratch.name(), "--",
					  "true"});
	EXPECT_EQ(r.status, 78) << r.err;
	auto skip = tagged(r.err, "CRON_SKIP");
	ASSERT_EQ(skip.size(), 1u) << r.err;
	EXPECT_NE(field(skip[0], "hint").find("CREATE EXTENSION cron_lock"), std::string::npos) << r.err;
	EXPECT_NE(field(skip[0], "hint").find("cronlock install"), std::string::npos) << r.err;
}

// --every/--schedule/--warn-after-skips on a server without cron_lock_declare (1.1):
// one warning, the run goes on. With it: the expectation is recorded.
TEST(CliCron, DeclareOrOneWarning)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("declare");
	auto r = run_cli({"run", "--job", job, "--every", "5m", "--late-after", "1m", "--", "true"},
					 {{"TZ", "Europe/Berlin"}});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(tagged(r.err, "CRON_DONE").size(), 1u);
	if (!server_has("cron_lock_declare")) {
		auto warn = tagged(r.err, "CRON_WARN");
		ASSERT_EQ(warn.size(), 1u) << r.err;
		EXPECT_EQ(field(warn[0], "what"), "declare");
		return;
	}
	EXPECT_TRUE(tagged(r.err, "CRON_WARN").empty()) << r.err;
	it::Sql sql;
	EXPECT_EQ(sql.one("SELECT every || ' ' || late_after FROM cron_lock.health WHERE job = $1", {job}),
			  "00:05:00 00:01:00");
	// A schedule goes with the host's time zone.
	const std::string weekdays = it::unique_job("declare-cron");
	r = run_cli({"run", "--job", weekdays, "--schedule", "30 6 * * 1-5", "--", "true"}, {{"TZ", "Europe/Berlin"}});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_TRUE(tagged(r.err, "CRON_WARN").empty()) << r.err;
	EXPECT_EQ(sql.one("SELECT schedule || '|' || timezone FROM cron_lock.health WHERE job = $1", {weekdays}),
			  "30 6 * * 1-5|Europe/Berlin");
}

// A paused job: [CRON_SKIP] reason=PAUSED and --on-busy's code (needs a 1.2 server).
TEST(CliCron, PausedSkipsWithOnBusy)
{
	REQUIRE_DB();
	if (!server_has("cron_lock_pause"))
		GTEST_SKIP() << "the server's cron_lock has no cron_lock_pause (before 1.2)";
	const std::string job = it::unique_job("paused");
	it::Sql sql;
	sql.column("SELECT cron_lock_pause($1)", {job});
	auto r = run_cli({"run", "--job", job, "--on-busy", "9", "--", "true"});
	EXPECT_EQ(r.status, 9) << r.err;
	auto skip = tagged(r.err, "CRON_SKIP");
	ASSERT_EQ(skip.size(), 1u) << r.err;
	EXPECT_EQ(field(skip[0], "reason"), "PAUSED");
	sql.column("SELECT cron_lock_resume($1)", {job});
	EXPECT_EQ(run_cli({"run", "--job", job, "--on-busy", "9", "--", "true"}).status, 0);
}

// --warn-after-skips 2: once two other runs were turned away, one alert and one
// many_skips anomaly (needs a 1.2 server; else one warning).
TEST(CliCron, WarnAfterSkips)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("skips");
	it::Background b({"run", "--job", job, "--ttl", "3s", "--warn-after-skips", "2", "--", "sleep", "4"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(b.err(), "CRON_RUN").empty(); }, 10)) << b.err();
	for (int i = 0; i < 3; ++i)
		EXPECT_EQ(run_cli({"run", "--job", job, "--instance", "other-" + std::to_string(i), "--retries", "0",
						   "--", "true"})
					  .status,
				  0);
	auto r = b.wait(20);
	EXPECT_EQ(r.status, 0) << r.err;
	if (!server_has("cron_lock_skips")) {
		int n = 0;
		for (const auto &w : tagged(r.err, "CRON_WARN"))
			n += field(w, "what") == "warn_after_skips";
		EXPECT_EQ(n, 1) << r.err;
		return;
	}
	auto alert = tagged(r.err, "CRON_ALERT");
	ASSERT_EQ(alert.size(), 1u) << r.err;
	EXPECT_EQ(field(alert[0], "event"), "many_skips");
	it::Sql sql;
	EXPECT_EQ(sql.one("SELECT count(*) FROM cron_lock.anomalies WHERE job = $1 AND kind = 'many_skips'", {job}),
			  "1");
}

// A stale lease taken over is an alert: with --log-to FILE its line reaches stderr, and
// -q (warnings and errors only) keeps it.
TEST(CliCron, StaleTakeoverIsAnAlert)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("takeover");
	const std::string file = temp_name("log");
	it::Sql sql;
	sql.column("SELECT acquired FROM cron_lock_try($1, 'ghost', '3 seconds')", {job});
	ASSERT_TRUE(it::wait_for([&] {
		return sql.one("SELECT state FROM cron_lock.status WHERE job = $1", {job}) == "expired";
	}, 10));
	auto r = run_cli({"run", "-q", "--log-to", file, "--job", job, "--", "true"}); // -q keeps it
	EXPECT_EQ(r.status, 0) << r.err;
	auto run = tagged(r.err, "CRON_RUN");
	ASSERT_EQ(run.size(), 1u) << r.err;
	EXPECT_EQ(field(run[0], "reason"), "took_over");
	EXPECT_EQ(tagged(slurp(file), "CRON_RUN").size(), 1u);
	unlink(file.c_str());
}

// --metrics-dir: this host's outcome, a skip the database never saw included; promtool
// accepts the file when it is installed.
TEST(CliCron, MetricsDirCountsUnseenSkips)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("metrics");
	const std::string dir = temp_name("metrics");
	auto r = run_cli({"run", "--job", job, "--instance", "m1", "--metrics-dir", dir, "--", "true"});
	EXPECT_EQ(r.status, 0) << r.err;
	r = run_cli({"run", "--job", job, "--instance", "m1", "--metrics-dir", dir, "--db", unreachable, "--retries",
				 "0", "--", "true"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_TRUE(tagged(r.err, "CRON_WARN").empty()) << r.err;
	std::string text; // the one .prom file in dir
	if (DIR *d = opendir(dir.c_str())) {
		while (dirent *e = readdir(d))
			if (std::string(e->d_name).ends_with(".prom"))
				text += slurp(dir + "/" + e->d_name);
		closedir(d);
	}
	const std::string labels = "job_name=\"" + job + "\",instance_name=\"m1\"";
	EXPECT_NE(text.find("cronlock_run_last_outcome{" + labels + ",outcome=\"db_unavailable\"} 1\n"),
			  std::string::npos)
		<< text;
	EXPECT_NE(text.find("cronlock_run_attempts_total{" + labels + ",outcome=\"succeeded\"} 1\n"),
			  std::string::npos)
		<< text;
	EXPECT_NE(text.find("cronlock_run_attempts_total{" + labels + ",outcome=\"db_unavailable\"} 1\n"),
			  std::string::npos)
		<< text;
	EXPECT_EQ(text.find("cronlock_run_last_success_timestamp_seconds{" + labels + "} 0\n"), std::string::npos)
		<< text;
	if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
		std::string cmd = "cat " + dir + "/*.prom | promtool check metrics >/dev/null 2>&1";
		EXPECT_EQ(std::system(cmd.c_str()), 0);
	}
	int ignored = std::system(("rm -rf '" + dir + "'").c_str());
	(void)ignored;
}

// A stray instance (issue 16 item 7: not among those an administrator expects on the
// job): its first run since the declaration is an alert, [CRON_ALERT]
// event=stray_instance with --notify, and the job still runs; its next run is no alert,
// nor is any run of an expected instance. Under cron (no terminal, a syslog socket) the
// alert reaches stderr after the run's earlier lines.
TEST(CliCron, StrayInstanceAlertsOnItsFirstRun)
{
	REQUIRE_DB();
	if (!server_has("cron_lock_stray"))
		GTEST_SKIP() << "the server's cron_lock has no cron_lock_stray (before 1.2)";
	const std::string job = it::unique_job("stray");
	it::Sql sql;
	sql.one("SELECT cron_lock_expect_instances(ARRAY['expected-1'], $1)", {job});
	auto run = [&](const std::string &instance, const std::string &log_to, it::EnvList env = {},
				   std::vector<std::string> extra = {}) {
		std::vector<std::string> args{"run", "--log-to", log_to, "--instance", instance, "--job", job};
		args.insert(args.end(), extra.begin(), extra.end());
		args.insert(args.end(), {"--", "true"});
		return run_cli(args, env);
	};
	auto r = run("expected-1", "stderr");
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_TRUE(tagged(r.err, "CRON_ALERT").empty()) << r.err;
	EXPECT_EQ(tagged(r.err, "CRON_DONE").size(), 1u) << r.err;

	const std::string notified = temp_name("stray-notify");
	r = run("stray-1", "stderr", {}, {"--notify", "echo \"$CRONLOCK_EVENT\" >> " + notified});
	EXPECT_EQ(r.status, 0) << r.err;
	auto alert = tagged(r.err, "CRON_ALERT");
	ASSERT_EQ(alert.size(), 1u) << r.err;
	EXPECT_EQ(field(alert[0], "event"), "stray_instance");
	EXPECT_EQ(field(alert[0], "run_id"), last_run(job, "run_id"));
	EXPECT_NE(field(alert[0], "message").find("\"stray-1\" is not among"), std::string::npos) << r.err;
	EXPECT_EQ(field(tagged(r.err, "CRON_DONE").at(0), "status"), "succeeded") << r.err; // it ran
	EXPECT_EQ(slurp(notified), "stray_instance\n");
	unlink(notified.c_str());
	r = run("stray-1", "stderr");
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_TRUE(tagged(r.err, "CRON_ALERT").empty()) << r.err; // seen before: no second alert
	EXPECT_EQ(tagged(r.err, "CRON_DONE").size(), 1u) << r.err;

	// As cron runs it: another stray's first run reaches stderr, an expected run does not.
	const std::string path = temp_name("stray-sock");
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::strcpy(sa.sun_path, path.c_str());
	ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa), 0);
	it::EnvList env{{"CRONLOCK_SYSLOG_SOCKET", path}};
	auto drain = [fd] { // a full socket (10 datagrams) would send the rest to stderr
		char buf[65536];
		while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
		}
	};
	r = run("expected-1", "auto", env);
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.err, "");
	drain();
	r = run("stray-2", "auto", env);
	EXPECT_EQ(r.status, 0);
	ASSERT_EQ(tagged(r.err, "CRON_ALERT").size(), 1u) << r.err;
	EXPECT_EQ(field(tagged(r.err, "CRON_ALERT")[0], "event"), "stray_instance");
	EXPECT_LT(r.err.find("[CRON_RUN]"), r.err.find("[CRON_ALERT]")) << r.err;
	drain();
	r = run("stray-2", "auto", env);
	EXPECT_EQ(r.status, 0);
	EXPECT_EQ(r.err, "");
	close(fd);
	unlink(path.c_str());
	sql.one("SELECT cron_lock_expect_instances(NULL, $1)", {job});
}
