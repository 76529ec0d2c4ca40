// A C++ service built against an installed libcronlock, through pkg-config and through
// find_package(cronlock): it links the exported API (no server needed).
#include <cronlock/cronlock.hpp>
#include <cronlock/duration.hpp>
#include <cronlock/version.hpp>

#include <chrono>
#include <cstdio>
#include <stop_token>
#include <type_traits>
#include <variant>

// Times reach library users on the wall clock.
static_assert(std::is_same_v<decltype(std::declval<const cronlock::Lease &>().expires_at()),
                             std::chrono::system_clock::time_point>);

int main()
{
    // Link something real from the library, not only a header constant.
    auto ttl = cronlock::parse_duration("1m30s");
    cronlock::Config cfg;
    cfg.conninfo = "host=h sslmode=bogus"; // refused before any connection
    cronlock::Client client(cfg);
    const auto &err = client.config_error();
    std::stop_source stop; // run() takes the caller's stop_token
    auto outcome = client.run("job", [](const cronlock::Lease &, std::stop_token) {
        return cronlock::JobResult{};
    }, stop.get_token());
    if (!std::holds_alternative<cronlock::PermanentError>(outcome))
        return 1;
    std::printf("cronlock %s ttl_ms=%lld error_class=%s\n", cronlock::version,
                ttl ? static_cast<long long>(ttl->count()) : -1LL,
                err ? std::string(cronlock::to_string(err->cls)).c_str() : "none");
    return ttl && err && err->cls == cronlock::ErrorClass::bad_conninfo ? 0 : 1;
}
