// PostgreSQL array literals as the admin subcommands' JSON sees them.
#include <gtest/gtest.h>

#include "table.hpp"

using cronlock::cli::parse_pg_array;

TEST(PgArray, Parses)
{
	using V = std::vector<std::optional<std::string>>;
	EXPECT_EQ(parse_pg_array("{}"), V{});
	EXPECT_EQ(parse_pg_array("{a,b}"), (V{"a", "b"}));
	EXPECT_EQ(parse_pg_array("{\"host a\",NULL,\"NULL\",\"q\\\"uote\",\"back\\\\slash\"}"),
			  (V{"host a", std::nullopt, "NULL", "q\"uote", "back\\slash"}));
	EXPECT_EQ(parse_pg_array("{\"a,b\",c}"), (V{"a,b", "c"}));
}

TEST(PgArray, RefusesOddInput)
{
	for (const char *bad : {"", "{", "a,b", "{{1,2},{3,4}}", "{\"open}", "{a\"b}"})
		EXPECT_EQ(parse_pg_array(bad), std::nullopt) << bad;
}

TEST(DisplayWidth, CountsCodePoints)
{
	EXPECT_EQ(cronlock::cli::display_width("abc"), 3u);
	EXPECT_EQ(cronlock::cli::display_width("h\xc3\xa9llo"), 5u);
}
