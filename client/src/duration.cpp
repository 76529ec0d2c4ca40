// duration.cpp: DURATION arguments. Strict: anything odd is refused rather than guessed.
#include "cronlock/duration.hpp"

#include <cstdint>

namespace cronlock {
namespace {

// Units from the largest down; each may appear once, in this order.
struct Unit {
	std::string_view name;
	std::int64_t ms;
};
constexpr Unit units[] = {{"d", 86400000}, {"h", 3600000}, {"ms", 1}, {"m", 60000}, {"s", 1000}};
// Order rank (d > h > m > s > ms), separate from the matching order above where "ms"
// must be tried before "m".
int rank(std::string_view u)
{
	if (u == "d") return 0;
	if (u == "h") return 1;
	if (u == "m") return 2;
	if (u == "s") return 3;
	return 4;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

} // namespace

std::optional<Millis> parse_duration(std::string_view text)
{
	if (text.empty())
		return std::nullopt;
	const std::int64_t limit = max_duration.count();
	std::int64_t total = 0;
	int last_rank = -1;
	std::size_t i = 0;
	while (i < text.size()) {
		std::int64_t n = 0;
		std::size_t start = i;
		while (i < text.size() && is_digit(text[i])) {
			n = n * 10 + (text[i] - '0');
			if (n > limit) // also stops 20-digit numbers before they overflow
				return std::nullopt;
			++i;
		}
		if (i == start)
			return std::nullopt; // a unit without a number, a sign, a dot...
		if (i == text.size()) {
			if (start != 0)
				return std::nullopt; // "1m30": a trailing bare number is ambiguous
			total = n * 1000;         // bare seconds
			break;
		}
		const Unit *unit = nullptr;
		for (const auto &u : units)
			if (text.substr(i, u.name.size()) == u.name) {
				unit = &u;
				break;
			}
		if (!unit || rank(unit->name) <= last_rank)
			return std::nullopt;
		last_rank = rank(unit->name);
		i += unit->name.size();
		if (n > limit / unit->ms)
			return std::nullopt;
		total += n * unit->ms;
		if (total > limit)
			return std::nullopt;
	}
	if (total > limit)
		return std::nullopt;
	return Millis{total};
}

std::string interval_text(Millis d)
{
	return std::to_string(d.count()) + " milliseconds";
}

std::string format_duration(Millis d)
{
	std::int64_t ms = d.count();
	if (ms == 0)
		return "0s";
	std::string out;
	for (auto [name, size] : {std::pair{"d", 86400000LL}, {"h", 3600000LL}, {"m", 60000LL},
							  {"s", 1000LL}, {"ms", 1LL}}) {
		if (ms >= size) {
			out += std::to_string(ms / size) + name;
			ms %= size;
		}
	}
	return out;
}

} // namespace cronlock
