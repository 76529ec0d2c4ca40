// The command line: defaults, where options stop, and every usage error.
#include <gtest/gtest.h>

#include <map>

#include "options.hpp"

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
	args.insert(args.begin(), "cronlock");
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	return parse_options(static_cast<int>(args.size()), argv.data(), fake_getenv);
}

struct OptionsTest : ::testing::Test {
	void SetUp() override { env_vars.clear(); }
};

} // namespace

TEST_F(OptionsTest, RunDefaults)
{
	auto o = parse({"run", "--job", "backup", "--", "pg_dump", "-Fc"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.command, "run");
	EXPECT_EQ(o.job, "backup");
	EXPECT_EQ(o.argv, (std::vector<std::string>{"pg_dump", "-Fc"}));
	EXPECT_EQ(o.ttl, 60s);
	EXPECT_EQ(o.retries, 5);
	EXPECT_EQ(o.backoff, 250ms);
	EXPECT_EQ(o.jitter, 250ms);
	EXPECT_EQ(o.connect_timeout, 5s);
	EXPECT_EQ(o.query_timeout, 2s);
	EXPECT_EQ(o.stagger, 0ms);
	EXPECT_EQ(o.on_busy, 0);
	EXPECT_EQ(o.on_unavailable, 0);
	EXPECT_FALSE(o.grace);
	EXPECT_FALSE(o.min_gap);
	EXPECT_FALSE(o.quiet);
	EXPECT_EQ(o.log_format, LogFormat::logfmt);
	EXPECT_EQ(o.conninfo, "");
	EXPECT_EQ(o.instance, "");
}

TEST_F(OptionsTest, RunEverything)
{
	auto o = parse({"run", "--db", "dbname=x", "--job=j", "--ttl", "1m30s", "--instance", "i1",
					"--min-gap", "30", "--stagger", "90s", "--retries", "0", "--backoff", "1s",
					"--jitter", "0", "--connect-timeout", "250ms", "--preflight-timeout", "1s",
					"--on-busy", "3", "--on-unavailable", "255", "--grace", "5s", "--log-format",
					"json", "-q", "cmd"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.conninfo, "dbname=x");
	EXPECT_EQ(o.ttl, 90s);
	EXPECT_EQ(o.instance, "i1");
	EXPECT_EQ(o.min_gap, 30s);
	EXPECT_EQ(o.stagger, 90s);
	EXPECT_EQ(o.retries, 0);
	EXPECT_EQ(o.backoff, 1s);
	EXPECT_EQ(o.jitter, 0ms);
	EXPECT_EQ(o.connect_timeout, 250ms);
	EXPECT_EQ(o.query_timeout, 1s);
	EXPECT_EQ(o.on_busy, 3);
	EXPECT_EQ(o.on_unavailable, 255);
	EXPECT_EQ(o.grace, 5s);
	EXPECT_EQ(o.log_format, LogFormat::json);
	EXPECT_TRUE(o.quiet);
	EXPECT_EQ(o.argv, std::vector<std::string>{"cmd"});
}

TEST_F(OptionsTest, OptionsEndAtTheFirstWord)
{
	auto o = parse({"run", "--job", "j", "sh", "-c", "exit 3", "--ttl", "1"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.ttl, 60s);
	EXPECT_EQ(o.argv, (std::vector<std::string>{"sh", "-c", "exit 3", "--ttl", "1"}));
	o = parse({"run", "--job", "j", "--", "--ttl"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.argv, std::vector<std::string>{"--ttl"});
}

TEST_F(OptionsTest, Environment)
{
	env_vars["DATABASE_URL"] = "postgresql://url/db";
	EXPECT_EQ(parse({"status"}).conninfo, "postgresql://url/db");
	env_vars["CRONLOCK_DB"] = "dbname=env";
	EXPECT_EQ(parse({"status"}).conninfo, "dbname=env");
	EXPECT_EQ(parse({"status", "--db", "dbname=opt"}).conninfo, "dbname=opt");
	env_vars["CRONLOCK_INSTANCE"] = "from-env";
	EXPECT_EQ(parse({"run", "--job", "j", "true"}).instance, "from-env");
	EXPECT_EQ(parse({"run", "--job", "j", "--instance", "opt", "true"}).instance, "opt");
}

TEST_F(OptionsTest, UsageErrors)
{
	const std::vector<std::vector<std::string>> bad = {
		{},
		{"nosuch"},
		{"--nosuch"},
		{"run"},
		{"run", "--job", "j"},
		{"run", "true"},
		{"run", "--job", "", "true"},
		{"run", "--job", " lead", "true"},
		{"run", "--job", "trail ", "true"},
		{"run", "--job", "ctl\x01", "true"},
		{"run", "--job", std::string(201, 'x'), "true"},
		{"run", "--job", "j", "--instance", "", "true"},
		{"run", "--job", "j", "--ttl", "2s", "true"},
		{"run", "--job", "j", "--ttl", "32d", "true"},
		{"run", "--job", "j", "--ttl", "abc", "true"},
		{"run", "--job", "j", "--ttl", "-1", "true"},
		{"run", "--job", "j", "--ttl", "1e309", "true"},
		{"run", "--job", "j", "--ttl", "12345678901234567890", "true"},
		{"run", "--job", "j", "--min-gap", "0", "true"},
		{"run", "--job", "j", "--grace", "60s", "true"},
		{"run", "--job", "j", "--retries", "-1", "true"},
		{"run", "--job", "j", "--retries", "101", "true"},
		{"run", "--job", "j", "--retries", "2x", "true"},
		{"run", "--job", "j", "--on-busy", "256", "true"},
		{"run", "--job", "j", "--on-unavailable", "", "true"},
		{"run", "--job", "j", "--connect-timeout", "0", "true"},
		{"run", "--job", "j", "--log-format", "xml", "true"},
		{"run", "--job", "j", "--json", "true"},
		{"run", "--job", "j", "-x", "true"},
		{"run", "--job"},
		{"status", "extra"},
		{"status", "--job", "j"},
		{"runs", "--limit", "0"},
		{"duplicates", "--since", "yesterday"},
		{"release", "--job", "j"},
		{"release", "--force"},
		{"release", "--job", "j", "--force", "--token", "0"},
	};
	for (const auto &args : bad) {
		auto o = parse(args);
		std::string joined;
		for (const auto &a : args)
			joined += "[" + a + "]";
		EXPECT_NE(o.error, "") << joined;
		EXPECT_FALSE(o.help) << joined;
	}
}

TEST_F(OptionsTest, ErrorMessagesSayWhat)
{
	EXPECT_NE(parse({"run", "--job", "j", "--ttl", "abc", "x"}).error.find("'abc' for --ttl"),
			  std::string::npos);
	EXPECT_NE(parse({"run", "--job", "j", "--bogus", "x"}).error.find("--bogus"), std::string::npos);
	EXPECT_NE(parse({"run", "--ttl"}).error.find("needs a value"), std::string::npos);
	EXPECT_NE(parse({"frobnicate"}).error.find("frobnicate"), std::string::npos);
}

TEST_F(OptionsTest, HelpAndVersion)
{
	EXPECT_TRUE(parse({"--help"}).help);
	EXPECT_TRUE(parse({"-h"}).help);
	EXPECT_TRUE(parse({"help"}).help);
	EXPECT_EQ(parse({"help", "run"}).command, "run");
	EXPECT_TRUE(parse({"--version"}).version);
	EXPECT_TRUE(parse({"-V"}).version);
	auto o = parse({"run", "--help"});
	EXPECT_TRUE(o.help);
	EXPECT_EQ(o.command, "run");
	EXPECT_TRUE(parse({"status", "-h"}).help);
	EXPECT_NE(help_text("run").find("--on-unavailable"), std::string::npos);
	EXPECT_NE(help_text("").find("doctor"), std::string::npos);
	EXPECT_EQ(version_text().rfind("cronlock ", 0), 0u);
}

TEST_F(OptionsTest, Subcommands)
{
	auto o = parse({"runs", "--job", "j", "--limit", "5", "--json"});
	ASSERT_EQ(o.error, "");
	EXPECT_TRUE(o.has_job);
	EXPECT_EQ(o.limit, 5);
	EXPECT_TRUE(o.json);
	o = parse({"duplicates", "--since", "2h"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.since, 2h);
	EXPECT_EQ(parse({"duplicates"}).since, 24h);
	o = parse({"release", "--job", "j", "--force", "--token", "9"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.token, 9);
	o = parse({"doctor", "--timeout", "5s"});
	ASSERT_EQ(o.error, "");
	EXPECT_EQ(o.query_timeout, 5s);
}
