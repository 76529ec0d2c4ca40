// cronlock run from cron (issue 16): the new options, --log-to's choice and routing,
// alert kinds, the --alert-after state file, the --metrics-dir text, the host's zone.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "options.hpp"
#include "run_log.hpp"
#include "run_state.hpp"

using namespace cronlock;
using namespace cronlock::cli;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> env_vars;

const char *fake_getenv(const char *name)
{
	auto it = env_vars.find(name);
	return it == env_vars.end() ? nullptr : it->second.c_str();
}

Options parse(std::vector<std::string> args)
{
	env_vars.clear();
	args.insert(args.begin(), "cronlock");
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	return parse_options(static_cast<int>(args.size()), argv.data(), fake_getenv);
}

std::string slurp(const std::string &path)
{
	std::ifstream f(path);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

struct TempDir {
	TempDir()
	{
		char tmpl[] = "/tmp/cronlock-unit.XXXXXX";
		path = mkdtemp(tmpl);
	}
	~TempDir()
	{
		int ignored = std::system(("rm -rf '" + path + "'").c_str());
		(void)ignored;
	}
	std::string path;
};

} // namespace

TEST(RunQuietOptions, Defaults)
{
	auto o = parse({"run", "--job", "j", "--", "true"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.log_to, "auto");
	EXPECT_FALSE(o.max_runtime);
	EXPECT_FALSE(o.warn_after_skips);
	EXPECT_FALSE(o.alert_after);
	EXPECT_EQ(o.notify, "");
	EXPECT_FALSE(o.every);
	EXPECT_EQ(o.schedule, "");
	EXPECT_FALSE(o.late_after);
	EXPECT_EQ(o.metrics_dir, "");
}

TEST(RunQuietOptions, Everything)
{
	auto o = parse({"run", "--job", "j", "--log-to", "/var/log/x.log", "--max-runtime", "1h",
					"--warn-after-skips", "5", "--alert-after", "3", "--notify", "curl -s x",
					"--schedule", "*/5 9-17 * * mon-fri", "--late-after", "2m", "--metrics-dir",
					"/var/lib/node", "--", "true"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.log_to, "/var/log/x.log");
	EXPECT_EQ(o.max_runtime, 1h);
	EXPECT_EQ(o.warn_after_skips, 5);
	EXPECT_EQ(o.alert_after, 3);
	EXPECT_EQ(o.notify, "curl -s x");
	EXPECT_EQ(o.schedule, "*/5 9-17 * * mon-fri");
	EXPECT_EQ(o.late_after, 2min);
	EXPECT_EQ(o.metrics_dir, "/var/lib/node");
	o = parse({"run", "--job", "j", "--every", "5m", "--log-to", "syslog", "true"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.every, 5min);
	EXPECT_EQ(o.log_to, "syslog");
}

TEST(RunQuietOptions, UsageErrors)
{
	struct Case {
		std::vector<std::string> args;
		std::string error;
	};
	const Case cases[] = {
		{{"--max-runtime", "0"}, "--max-runtime must be positive"},
		{{"--max-runtime", "soon"}, "invalid duration 'soon' for --max-runtime"},
		{{"--alert-after", "0"}, "invalid value '0' for --alert-after"},
		{{"--warn-after-skips", "-1"}, "invalid value '-1' for --warn-after-skips"},
		{{"--every", "5m", "--schedule", "* * * * *"}, "exclude each other"},
		{{"--late-after", "1m"}, "--late-after needs --every or --schedule"},
		{{"--every", "500ms"}, "--every must be at least 1s"},
		{{"--schedule", "* * * *"}, "five fields"},
		{{"--schedule", "* * * * * *"}, "five fields"},
		{{"--schedule", "@daily"}, "unexpected character '@'"},
		{{"--log-to", ""}, "--log-to needs"},
		{{"--notify", ""}, "--notify needs a command"},
		{{"--metrics-dir", ""}, "--metrics-dir needs"},
	};
	for (const auto &c : cases) {
		std::vector<std::string> args{"run", "--job", "j"};
		args.insert(args.end(), c.args.begin(), c.args.end());
		args.insert(args.end(), {"--", "true"});
		auto o = parse(args);
		EXPECT_NE(o.error.find(c.error), std::string::npos) << c.args[0] << ": " << o.error;
	}
	// Only run has them.
	EXPECT_NE(parse({"status", "--max-runtime", "1m"}).error.find("unknown option"), std::string::npos);
}

TEST(RunQuietLog, AutoChoosesByTerminalAndSocket)
{
	TempDir t;
	const std::string none = t.path + "/no-socket";
	EXPECT_EQ(choose_log_dest("auto", true, none), LogDest::stderr_all);
	EXPECT_EQ(choose_log_dest("auto", false, none), LogDest::stderr_all); // a container
	EXPECT_EQ(choose_log_dest("auto", false, t.path), LogDest::stderr_all); // a directory is no socket
	EXPECT_EQ(choose_log_dest("stderr", false, none), LogDest::stderr_all);
	EXPECT_EQ(choose_log_dest("syslog", true, none), LogDest::syslog);
	EXPECT_EQ(choose_log_dest("/tmp/x.log", true, none), LogDest::file);
}

TEST(RunQuietLog, SyslogDatagram)
{
	auto d = syslog_datagram(4, 42, "[CRON_SKIP] job=j\n");
	EXPECT_EQ(d.rfind("<12>", 0), 0u) << d; // user.warning
	EXPECT_NE(d.find(" cronlock[42]: [CRON_SKIP] job=j"), std::string::npos) << d;
	EXPECT_EQ(d.back(), 'j'); // no newline
}

TEST(RunQuietLog, AlertKinds)
{
	RunLog log({"stderr", "", "j", "i", {}});
	EXPECT_EQ(log.alert_kind("CRON_LOST", {{"why", "heartbeat_null"}}), "lease_lost");
	EXPECT_EQ(log.alert_kind("CRON_SKIP", {{"reason", "PERMANENT_ERROR"}}), "permanent_error");
	EXPECT_EQ(log.alert_kind("CRON_SKIP", {{"reason", "BUSY"}}), "");
	EXPECT_EQ(log.alert_kind("CRON_SKIP", {{"reason", "PAUSED"}}), "");
	EXPECT_EQ(log.alert_kind("CRON_SKIP", {{"reason", "DB_UNAVAILABLE"}}), "");
	EXPECT_EQ(log.alert_kind("CRON_RUN", {{"reason", "acquired"}}), "");
	EXPECT_EQ(log.alert_kind("CRON_RUN", {{"reason", "took_over"}, {"took_over", std::int64_t{3}}}), "took_over");
	EXPECT_EQ(log.alert_kind("CRON_DONE", {{"status", "succeeded"}}), "");
	EXPECT_EQ(log.alert_kind("CRON_DONE", {{"status", "cancelled"}}), "");
	EXPECT_EQ(log.alert_kind("CRON_DONE", {{"status", "lost"}}), ""); // CRON_LOST said it
	EXPECT_EQ(log.alert_kind("CRON_DONE", {{"status", "failed"}}), "command_failed");
	log.exec_errno = ENOENT;
	EXPECT_EQ(log.alert_kind("CRON_DONE", {{"status", "failed"}}), "command_not_found");
	log.exec_errno = EACCES;
	EXPECT_EQ(log.alert_kind("CRON_DONE", {{"status", "failed"}}), "command_not_executable");
	log.max_runtime_hit = true;
	EXPECT_EQ(log.alert_kind("CRON_DONE", {{"status", "failed"}}), "max_runtime");
	EXPECT_EQ(log.alert_kind("CRON_ALERT", {{"event", "many_skips"}}), "many_skips");
}

// --log-to FILE with stderr not a terminal: everything in the file; on stderr nothing
// until the first alert, then the earlier lines, the alert and every later line.
TEST(RunQuietLog, FileRoutingAndAlertsOnStderr)
{
	TempDir t;
	const std::string file = t.path + "/run.log", err = t.path + "/stderr";
	int saved = dup(2);
	int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_GE(fd, 0);
	dup2(fd, 2);
	close(fd);
	{
		RunLog log({file, "", "j", "i", {}});
		EXPECT_EQ(log.dest(), LogDest::file);
		log.line(Level::info, "CRON_BOOT", {}, "[CRON_BOOT] one\n");
		log.line(Level::info, "CRON_RUN", {{"reason", "acquired"}}, "[CRON_RUN] two\n");
		const std::string quiet = slurp(err);
		log.line(Level::warning, "CRON_LOST", {}, "[CRON_LOST] three\n");
		log.line(Level::warning, "CRON_DONE", {{"status", "lost"}}, "[CRON_DONE] four\n");
		dup2(saved, 2);
		close(saved);
		EXPECT_EQ(quiet, "");
		EXPECT_EQ(log.alerts(), 1);
	}
	EXPECT_EQ(slurp(file), "[CRON_BOOT] one\n[CRON_RUN] two\n[CRON_LOST] three\n[CRON_DONE] four\n");
	EXPECT_EQ(slurp(err), "[CRON_BOOT] one\n[CRON_RUN] two\n[CRON_LOST] three\n[CRON_DONE] four\n");
}

TEST(RunQuietLog, NoAlertNothingOnStderr)
{
	TempDir t;
	const std::string file = t.path + "/run.log", err = t.path + "/stderr";
	int saved = dup(2);
	int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	{
		RunLog log({file, "", "j", "i", {}});
		log.line(Level::info, "CRON_BOOT", {}, "[CRON_BOOT] one\n");
		log.line(Level::info, "CRON_SKIP", {{"reason", "BUSY"}}, "[CRON_SKIP] busy\n");
	}
	dup2(saved, 2);
	close(saved);
	EXPECT_EQ(slurp(err), "");
	EXPECT_EQ(slurp(file), "[CRON_BOOT] one\n[CRON_SKIP] busy\n");
}

TEST(RunQuietLog, NotifyGetsTheEvent)
{
	TempDir t;
	const std::string out = t.path + "/env";
	{
		RunLog log({"/dev/null", "env | grep '^CRONLOCK_EVENT' | sort > " + out, "nightly", "host-1",
					{{"CRONLOCK_DB", "dbname=x"}}});
		log.line(Level::warning, "CRON_LOST",
				 {{"run_id", std::int64_t{7}}, {"token", std::int64_t{9}}, {"why", "heartbeat_null"}},
				 "[CRON_LOST] run_id=7\n");
		log.finish_notify(10s);
	}
	const std::string env = slurp(out);
	EXPECT_NE(env.find("CRONLOCK_EVENT=lease_lost\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_TAG=CRON_LOST\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_JOB=nightly\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_INSTANCE=host-1\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_TOKEN=9\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_WHY=heartbeat_null\n"), std::string::npos) << env;
	EXPECT_NE(env.find("CRONLOCK_EVENT_LINE=[CRON_LOST] run_id=7\n"), std::string::npos) << env;
}

TEST(RunQuietLog, NotifyIsBounded)
{
	RunLog log({"/dev/null", "sleep 30", "j", "i", {}});
	log.line(Level::warning, "CRON_LOST", {}, "[CRON_LOST]\n");
	auto t0 = std::chrono::steady_clock::now();
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 2); // the "killed" note
	log.finish_notify(300ms);
	dup2(saved, 2);
	close(saved);
	close(null);
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(RunQuietState, DefaultDirectory)
{
	env_vars = {{"HOME", "/home/u"}};
	EXPECT_EQ(state_dir(fake_getenv, false), "/home/u/.local/state/cronlock");
	EXPECT_EQ(state_dir(fake_getenv, true), "/var/lib/cronlock");
	env_vars["XDG_STATE_HOME"] = "/x/state";
	EXPECT_EQ(state_dir(fake_getenv, false), "/x/state/cronlock");
	env_vars["CRONLOCK_STATE_DIR"] = "/s";
	EXPECT_EQ(state_dir(fake_getenv, false), "/s");
	EXPECT_EQ(state_dir(fake_getenv, true), "/s");
}

TEST(RunQuietState, FileStem)
{
	EXPECT_EQ(job_file_stem("nightly-report").rfind("nightly-report.", 0), 0u);
	EXPECT_EQ(job_file_stem("a/b c").rfind("a_b_c.", 0), 0u);
	EXPECT_NE(job_file_stem("a/b"), job_file_stem("a_b")); // the hash tells them apart
	EXPECT_LT(job_file_stem(std::string(200, 'x')).size(), 100u);
}

TEST(RunQuietState, CountsResetsAndCreates)
{
	TempDir t;
	const std::string dir = t.path + "/deep/state";
	auto r = update_unavailable_count(dir, "j", false); // nothing counted: nothing written
	EXPECT_EQ(r.count, 0);
	EXPECT_EQ(r.warning, "");
	struct stat st;
	EXPECT_NE(stat(dir.c_str(), &st), 0);
	EXPECT_EQ(update_unavailable_count(dir, "j", true).count, 1);
	EXPECT_EQ(update_unavailable_count(dir, "j", true).count, 2);
	EXPECT_EQ(update_unavailable_count(dir, "other", true).count, 1);
	EXPECT_EQ(update_unavailable_count(dir, "j", false).count, 0);
	EXPECT_EQ(update_unavailable_count(dir, "j", true).count, 1);
	EXPECT_EQ(slurp(dir + "/" + job_file_stem("j") + ".unavailable"), "consecutive_unavailable 1\n");
}

TEST(RunQuietState, CorruptFileIsAWarning)
{
	TempDir t;
	const std::string path = t.path + "/" + job_file_stem("j") + ".unavailable";
	std::ofstream(path) << "garbage\n";
	auto r = update_unavailable_count(t.path, "j", true);
	EXPECT_EQ(r.count, 1);
	EXPECT_NE(r.warning.find("corrupt"), std::string::npos) << r.warning;
	EXPECT_EQ(slurp(path), "consecutive_unavailable 1\n");
}

TEST(RunQuietState, UnwritableIsAWarning)
{
	auto r = update_unavailable_count("/proc/cronlock-no-such-dir", "j", true);
	EXPECT_NE(r.warning, "");
	EXPECT_EQ(r.count, 0);
}

// Two processes counting the same job at once lose no update (flock on the directory,
// temp file + rename).
TEST(RunQuietState, ConcurrentProcessesLoseNoCount)
{
	TempDir t;
	constexpr int procs = 4, each = 50;
	std::vector<pid_t> kids;
	for (int p = 0; p < procs; ++p) {
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < each; ++i)
				if (!update_unavailable_count(t.path, "j", true).warning.empty())
					_exit(1);
			_exit(0);
		}
		kids.push_back(pid);
	}
	for (pid_t k : kids) {
		int ws;
		waitpid(k, &ws, 0);
		EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	}
	EXPECT_EQ(slurp(t.path + "/" + job_file_stem("j") + ".unavailable"),
			  "consecutive_unavailable " + std::to_string(procs * each) + "\n");
}

TEST(RunQuietMetrics, CarriesOverSuccessAndTotals)
{
	MetricsOutcome ok{"succeeded", 0, 1.5, -1};
	std::string first = run_metrics_text("j\"x", "h", ok, 1000000, "");
	EXPECT_NE(first.find("cronlock_run_last_success_timestamp_seconds{job=\"j\\\"x\",instance=\"h\"} 1000\n"),
			  std::string::npos)
		<< first;
	EXPECT_NE(first.find("cronlock_run_last_duration_seconds{job=\"j\\\"x\",instance=\"h\"} 1.5\n"),
			  std::string::npos);
	MetricsOutcome down{"db_unavailable", 0, -1, 2};
	std::string second = run_metrics_text("j\"x", "h", down, 2000000, first);
	EXPECT_NE(second.find("cronlock_run_last_success_timestamp_seconds{job=\"j\\\"x\",instance=\"h\"} 1000\n"),
			  std::string::npos)
		<< second;
	EXPECT_NE(second.find("cronlock_run_last_outcome{job=\"j\\\"x\",instance=\"h\",outcome=\"db_unavailable\"} 1\n"),
			  std::string::npos);
	EXPECT_NE(second.find("cronlock_run_attempts_total{job=\"j\\\"x\",instance=\"h\",outcome=\"succeeded\"} 1\n"),
			  std::string::npos);
	EXPECT_NE(second.find("cronlock_run_attempts_total{job=\"j\\\"x\",instance=\"h\",outcome=\"db_unavailable\"} 1\n"),
			  std::string::npos);
	EXPECT_NE(second.find("cronlock_run_consecutive_unavailable{job=\"j\\\"x\",instance=\"h\"} 2\n"),
			  std::string::npos);
	EXPECT_NE(second.find("cronlock_run_last_duration_seconds{job=\"j\\\"x\",instance=\"h\"} 1.5\n"),
			  std::string::npos); // kept from the run that ran
}

// promtool (Debian package prometheus) accepts the text, when it is installed.
TEST(RunQuietMetrics, PromtoolAccepts)
{
	if (system("command -v promtool >/dev/null 2>&1") != 0)
		GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
	TempDir t;
	MetricsOutcome ok{"succeeded", 0, 0.25, 0};
	ASSERT_EQ(write_run_metrics(t.path, "nightly report", "host-1", ok, 1796000000123), "");
	MetricsOutcome busy{"busy", 0, -1, -1};
	ASSERT_EQ(write_run_metrics(t.path, "nightly report", "host-1", busy, 1796000060123), "");
	std::string cmd = "cat " + t.path + "/*.prom | promtool check metrics >" + t.path + "/promtool.out 2>&1";
	EXPECT_EQ(system(cmd.c_str()), 0) << slurp(t.path + "/promtool.out");
}

TEST(RunQuietZone, FromTzThenFiles)
{
	env_vars = {{"TZ", ":Europe/Berlin"}};
	EXPECT_EQ(host_timezone(fake_getenv), "Europe/Berlin");
	env_vars = {{"TZ", "/usr/share/zoneinfo/America/New_York"}};
	EXPECT_EQ(host_timezone(fake_getenv), "America/New_York");
	env_vars.clear();
	auto z = host_timezone(fake_getenv); // /etc/timezone or /etc/localtime: whatever the host says
	if (z) {
		EXPECT_EQ(z->find('\n'), std::string::npos);
	}
}
