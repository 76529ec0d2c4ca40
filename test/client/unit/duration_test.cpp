// DURATION arguments: what is accepted, and that garbage is refused, not guessed.
#include <gtest/gtest.h>

#include "cronlock/duration.hpp"

using cronlock::Millis;
using cronlock::parse_duration;

TEST(Duration, Accepted)
{
	EXPECT_EQ(parse_duration("250ms"), Millis{250});
	EXPECT_EQ(parse_duration("30s"), Millis{30000});
	EXPECT_EQ(parse_duration("5m"), Millis{300000});
	EXPECT_EQ(parse_duration("1h"), Millis{3600000});
	EXPECT_EQ(parse_duration("1d"), Millis{86400000});
	EXPECT_EQ(parse_duration("1m30s"), Millis{90000});
	EXPECT_EQ(parse_duration("1h2m3s4ms"), Millis{3723004});
	EXPECT_EQ(parse_duration("30"), Millis{30000});
	EXPECT_EQ(parse_duration("0"), Millis{0});
	EXPECT_EQ(parse_duration("0s"), Millis{0});
	EXPECT_EQ(parse_duration("100d"), Millis{8640000000LL});
}

TEST(Duration, Refused)
{
	for (const char *bad :
		 {"", "-1", "-1s", "+1", "abc", "1e309", "1e3", "12345678901234567890",
		  "99999999999999999999999s", "1.5s", ".5s", "s", "ms", "1x", "1 s", " 1s", "1s ",
		  "1m30", "30s1m", "1s1s", "1ms1s", "101d", "2400h1ms", "0x10", "1S", "1sec", "inf", "nan"})
		EXPECT_EQ(parse_duration(bad), std::nullopt) << "'" << bad << "'";
}

TEST(Duration, IntervalTextAndFormat)
{
	EXPECT_EQ(cronlock::interval_text(Millis{60000}), "60000 milliseconds");
	EXPECT_EQ(cronlock::format_duration(Millis{90000}), "1m30s");
	EXPECT_EQ(cronlock::format_duration(Millis{250}), "250ms");
	EXPECT_EQ(cronlock::format_duration(Millis{0}), "0s");
	EXPECT_EQ(cronlock::format_duration(Millis{86400000 + 1}), "1d1ms");
}
