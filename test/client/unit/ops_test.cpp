// The operating subcommands' command lines (parsed by the one parser, options.cpp) and
// the helpers that escape user data
// (HTML, Prometheus labels, PostgreSQL arrays) or write files atomically.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "ops_common.hpp"
#include "options.hpp"

using namespace cronlock;
using namespace cronlock::cli;
using namespace std::chrono_literals;

namespace {

const char *no_env(const char *) { return nullptr; }

Options parse(std::vector<std::string> args)
{
	args.insert(args.begin(), "cronlock");
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	return parse_options(static_cast<int>(args.size()), argv.data(), no_env);
}

std::string error_of(std::vector<std::string> args) { return parse(std::move(args)).error; }

} // namespace

TEST(OpsOptions, Commands)
{
	for (const char *c : {"health", "anomalies", "pause", "resume", "expect", "metrics", "timeline"}) {
		auto o = parse({c, "--help"});
		EXPECT_EQ(o.command, c);
		EXPECT_TRUE(o.help) << c;
		EXPECT_EQ(o.error, "") << c;
		EXPECT_NE(help_text(c).find(std::string("Usage: cronlock ") + c), std::string::npos) << c;
	}
	// Each subcommand takes only its own options, run's too.
	EXPECT_NE(error_of({"health", "--ttl", "5s"}).find("unknown option '--ttl'"), std::string::npos);
	EXPECT_NE(error_of({"status", "--html", "x"}).find("unknown option '--html'"), std::string::npos);
	EXPECT_EQ(parse({"runs"}).limit, 20);
}

TEST(OpsOptions, Defaults)
{
	auto h = parse({"health"});
	EXPECT_EQ(h.error, "");
	EXPECT_FALSE(h.quiet);
	EXPECT_TRUE(parse({"health", "-q", "--json"}).quiet);
	auto a = parse({"anomalies"});
	EXPECT_EQ(a.since, 86400000ms);
	EXPECT_EQ(parse({"anomalies", "--since", "2h"}).since, 7200000ms);
	auto t = parse({"timeline", "--html", "x.html"});
	EXPECT_EQ(t.error, "");
	EXPECT_EQ(*t.html, "x.html");
	EXPECT_EQ(t.limit, 20000);
}

TEST(OpsOptions, UsageErrors)
{
	EXPECT_NE(error_of({"pause"}).find("needs --job"), std::string::npos);
	EXPECT_NE(error_of({"resume"}).find("needs --job"), std::string::npos);
	EXPECT_NE(error_of({"timeline"}).find("needs --html"), std::string::npos);
	EXPECT_NE(error_of({"health", "--since", "1h"}).find("unknown option '--since'"), std::string::npos);
	EXPECT_NE(error_of({"health", "extra"}).find("unexpected argument 'extra'"), std::string::npos);
	EXPECT_NE(error_of({"anomalies", "--since", "0"}).find("positive"), std::string::npos);
	EXPECT_NE(error_of({"pause", "--job", "j", "--until", ""}).find("--until needs"), std::string::npos);
	EXPECT_NE(error_of({"timeline", "--html", "f", "--limit", "0"}).find("--limit"), std::string::npos);
	EXPECT_NE(error_of({"timeline", "--html", "f", "--limit", "-5"}).find("--limit"), std::string::npos);
	EXPECT_NE(error_of({"pause", "--job", std::string("a\tb")}).find("control"), std::string::npos);
}

TEST(OpsOptions, Expect)
{
	EXPECT_EQ(error_of({"expect", "--job", "j", "--every", "5m", "--late-after", "1m"}), "");
	EXPECT_EQ(error_of({"expect", "--job", "j", "--schedule", "0 6 * * 1-5", "--timezone", "UTC"}), "");
	EXPECT_EQ(error_of({"expect", "--job", "j", "--clear"}), "");
	EXPECT_EQ(error_of({"expect", "--all-jobs", "--instances", "a,b"}), "");
	EXPECT_EQ(error_of({"expect", "--job", "j", "--instances", ""}), "");
	EXPECT_NE(error_of({"expect", "--job", "j"}).find("needs --instances"), std::string::npos);
	EXPECT_NE(error_of({"expect", "--every", "5m"}).find("--job NAME or --all-jobs"), std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--all-jobs", "--instances", "a"}).find("one of them"),
			  std::string::npos);
	EXPECT_NE(error_of({"expect", "--all-jobs", "--every", "5m"}).find("--instances only"), std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--every", "5m", "--schedule", "* * * * *"}).find("exclude"),
			  std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--clear", "--every", "5m"}).find("--clear"), std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--instances", "a", "--late-after", "5m"}).find("goes with"),
			  std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--every", "5m", "--timezone", "UTC"}).find("goes with --schedule"),
			  std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--every", "500ms"}).find("at least 1s"), std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--schedule", "* * *"}).find("five fields"), std::string::npos);
	EXPECT_NE(error_of({"expect", "--job", "j", "--instances", "a,,b"}).find("--instances"), std::string::npos);
}

TEST(OpsOptions, SplitNames)
{
	std::string err;
	EXPECT_EQ(split_names("a,b,a", err), (std::vector<std::string>{"a", "b"}));
	EXPECT_EQ(err, "");
	EXPECT_TRUE(split_names("", err).empty());
	split_names("a, b", err); // a leading space is refused, as by the server
	EXPECT_NE(err, "");
}

TEST(OpsCommon, Escaping)
{
	EXPECT_EQ(html_escape("<script>alert('x\"&')</script>"),
			  "&lt;script&gt;alert(&#39;x&quot;&amp;&#39;)&lt;/script&gt;");
	EXPECT_EQ(prom_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
	EXPECT_EQ(pg_text_array({}), "{}");
	EXPECT_EQ(pg_text_array({"a", "b c", "q\"x", "b\\s", "NULL", ""}),
			  "{\"a\",\"b c\",\"q\\\"x\",\"b\\\\s\",\"NULL\",\"\"}");
}

TEST(OpsCommon, WriteFileAtomically)
{
	char dir[] = "/tmp/cronlock-unit.XXXXXX";
	ASSERT_NE(::mkdtemp(dir), nullptr);
	const std::string path = std::string(dir) + "/out.prom";
	EXPECT_EQ(write_file_atomically(path, "one\n"), "");
	::chmod(path.c_str(), 0640);
	EXPECT_EQ(write_file_atomically(path, "two\n"), "");
	std::ifstream in(path);
	std::stringstream ss;
	ss << in.rdbuf();
	EXPECT_EQ(ss.str(), "two\n");
	struct stat st;
	ASSERT_EQ(::stat(path.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0640u) << "the old file's mode is kept";
	EXPECT_NE(write_file_atomically(std::string(dir) + "/missing/x", "x").find("cannot create"),
			  std::string::npos);
	EXPECT_NE(write_file_atomically(std::string(dir) + "/", "x").find("not a file name"), std::string::npos);
	std::string cmd = std::string("ls -A ") + dir + " | wc -l";
	FILE *p = ::popen(cmd.c_str(), "r");
	int n = 0;
	ASSERT_EQ(std::fscanf(p, "%d", &n), 1);
	::pclose(p);
	EXPECT_EQ(n, 1) << "no temporary file left behind";
	::unlink(path.c_str());
	::rmdir(dir);
}
