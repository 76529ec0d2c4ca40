// A C++ service built against an installed libcronlock, through pkg-config and through
// find_package(cronlock): it links the exported API (no server needed).
#include <cronlock/cronlock.hpp>
#include <cronlock/duration.hpp>
#include <cronlock/version.hpp>

#include <cstdio>

int main()
{
    // Link something real from the library, not only a header constant.
    auto ttl = cronlock::parse_duration("1m30s");
    cronlock::Config cfg;
    cfg.conninfo = "host=h sslmode=bogus"; // refused before any connection
    cronlock::Client client(cfg);
    const auto &err = client.config_error();
    std::printf("cronlock %s ttl_ms=%lld error_class=%s\n", cronlock::version,
                ttl ? static_cast<long long>(ttl->count()) : -1LL,
                err ? std::string(cronlock::to_string(err->cls)).c_str() : "none");
    return ttl && err && err->cls == cronlock::ErrorClass::bad_conninfo ? 0 : 1;
}
