// cronlock/duration.hpp: DURATION arguments ("250ms", "30s", "1m30s", "1h", "1d", "30").
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cronlock {

using Millis = std::chrono::milliseconds;

// The clock of every deadline: CLOCK_BOOTTIME, monotonic like steady_clock but counting
// the time the machine was suspended, as the server's clock does. A lease that expired
// on the server during a suspend has expired here too. Its time points are the
// kernel's CLOCK_BOOTTIME values, so they can arm a timerfd directly.
struct BootClock {
	using rep = std::int64_t;
	using period = std::nano;
	using duration = std::chrono::nanoseconds;
	using time_point = std::chrono::time_point<BootClock>;
	static constexpr bool is_steady = true;
	static time_point now() noexcept
	{
		timespec ts;
		clock_gettime(CLOCK_BOOTTIME, &ts);
		return time_point(duration(std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec));
	}
};
using SteadyClock = BootClock;

// Upper bound of any duration we accept (100 days): far above every sane value and
// far below what would overflow steady_clock arithmetic.
inline constexpr Millis max_duration{100LL * 24 * 3600 * 1000};

// Parses a non-negative duration. Units ms, s, m, h, d, each at most once and from the
// largest down; a bare number is seconds. No signs, decimals or exponents.
std::optional<Millis> parse_duration(std::string_view text);

// Interval text for the server, e.g. "60000 milliseconds".
std::string interval_text(Millis d);

// Short human form, e.g. "1m30s", "250ms", "0s".
std::string format_duration(Millis d);

} // namespace cronlock
