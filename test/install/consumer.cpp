// A C++ service built against an installed libcronlock through pkg-config.
#include <cronlock/cronlock.hpp>
#include <cronlock/duration.hpp>
#include <cronlock/version.hpp>

#include <cstdio>

int main()
{
    // Link something real from the library, not only a header constant.
    auto ttl = cronlock::parse_duration("1m30s");
    std::printf("cronlock %s ttl_ms=%lld\n", cronlock::version,
                ttl ? static_cast<long long>(ttl->count()) : -1LL);
    return ttl ? 0 : 1;
}
