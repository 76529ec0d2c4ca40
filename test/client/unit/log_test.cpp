// Log lines, byte for byte, in both formats; -q keeps warnings and errors only.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fcntl.h>

#include "cronlock/log.hpp"

using namespace cronlock;

TEST(Log, Logfmt)
{
	Logger log(LogFormat::logfmt, false);
	log.set_context("nightly report", "host-a");
	std::string line = log.format_line(
		"CRON_LOCK", "2026-01-02T03:04:05.006Z",
		{{"try", 1}, {"outcome", "acquired"}, {"elapsed_ms", std::int64_t{3}},
		 {"sqlstate", std::monostate{}}, {"message", "say \"hi\"\nbye"}, {"ok", true}});
	EXPECT_EQ(line, "[CRON_LOCK] ts=2026-01-02T03:04:05.006Z job=\"nightly report\" instance=host-a pid=" +
						std::to_string(getpid()) +
						" try=1 outcome=acquired elapsed_ms=3 message=\"say \\\"hi\\\"\\nbye\" ok=true");
}

TEST(Log, Json)
{
	Logger log(LogFormat::json, false);
	log.set_context("j\"ob", "h\x01");
	std::string line = log.format_line("CRON_SKIP", "T", {{"reason", "BUSY"}, {"holder", std::monostate{}},
														  {"bad_utf8", "a\xff" "b"}, {"utf8", "\xc3\xa9"}});
	EXPECT_EQ(line, "{\"tag\":\"CRON_SKIP\",\"ts\":\"T\",\"job\":\"j\\\"ob\",\"instance\":\"h\\u0001\",\"pid\":" +
						std::to_string(getpid()) +
						",\"reason\":\"BUSY\",\"bad_utf8\":\"a\\ufffdb\",\"utf8\":\"\xc3\xa9\"}");
}

TEST(Log, Values)
{
	EXPECT_EQ(logfmt_value("plain"), "plain");
	EXPECT_EQ(logfmt_value(""), "\"\"");
	EXPECT_EQ(logfmt_value("a=b"), "\"a=b\"");
	EXPECT_EQ(logfmt_value("tab\there"), "\"tab\\there\"");
	EXPECT_EQ(logfmt_value("\x7f"), "\"\\x7f\"");
	EXPECT_EQ(json_string("back\\slash"), "\"back\\\\slash\"");
}

TEST(Log, QuietKeepsWarningsAndErrors)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	{
		Logger log(LogFormat::logfmt, true, fds[1]);
		log.log(Level::info, "CRON_RUN", {{"run_id", 1}});
		log.log(Level::warning, "CRON_SKIP", {{"reason", "DB_UNAVAILABLE"}});
		log.log(Level::error, "CRON_LOCK", {{"error_class", "auth_failed"}});
	}
	close(fds[1]);
	std::string out;
	char buf[4096];
	ssize_t n;
	while ((n = read(fds[0], buf, sizeof buf)) > 0)
		out.append(buf, static_cast<std::size_t>(n));
	close(fds[0]);
	EXPECT_EQ(out.find("CRON_RUN"), std::string::npos);
	EXPECT_NE(out.find("[CRON_SKIP] ts="), std::string::npos);
	EXPECT_NE(out.find("reason=DB_UNAVAILABLE\n"), std::string::npos);
	EXPECT_NE(out.find("error_class=auth_failed\n"), std::string::npos);
}

TEST(Log, TimestampShape)
{
	std::string ts = utc_timestamp();
	ASSERT_EQ(ts.size(), 24u) << ts;
	EXPECT_EQ(ts[10], 'T');
	EXPECT_EQ(ts[19], '.');
	EXPECT_EQ(ts.back(), 'Z');
}
