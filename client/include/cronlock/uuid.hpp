// cronlock/uuid.hpp: random (version 4) UUIDs for attempt ids, and a stable job hash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cronlock {

// Reads 16 bytes from getrandom(2); falls back to std::random_device.
std::string uuid_v4();

// FNV-1a 64: the same value on every host and build, unlike std::hash.
std::uint64_t stable_hash(std::string_view s);

} // namespace cronlock
