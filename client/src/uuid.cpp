// uuid.cpp: attempt ids and the stagger hash.
#include "cronlock/uuid.hpp"

#include <sys/random.h>

#include <random>

namespace cronlock {

std::string uuid_v4()
{
	unsigned char b[16];
	if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) {
		std::random_device rd;
		for (auto &c : b)
			c = static_cast<unsigned char>(rd());
	}
	b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40); // version 4
	b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80); // RFC 4122 variant
	static const char hex[] = "0123456789abcdef";
	std::string out;
	out.reserve(36);
	for (int i = 0; i < 16; ++i) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out += '-';
		out += hex[b[i] >> 4];
		out += hex[b[i] & 15];
	}
	return out;
}

std::uint64_t stable_hash(std::string_view s)
{
	std::uint64_t h = 14695981039346656037ULL;
	for (unsigned char c : s) {
		h ^= c;
		h *= 1099511628211ULL;
	}
	return h;
}

} // namespace cronlock
