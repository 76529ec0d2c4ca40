// admin_common.hpp: what the admin subcommands share: a Client from the options and
// one way to report a failed call.
#pragma once

#include "client_impl.hpp"
#include "options.hpp"

namespace cronlock::cli {

Config admin_config(const Options &o);

// Prints "cronlock: MESSAGE (error_class, SQLSTATE)" and a hint; returns 78 for a
// permanent error, 69 for an unreachable database.
int report_error(const Error &e);

} // namespace cronlock::cli
