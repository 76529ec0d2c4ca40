// resolve.hpp: host name lookups that a deadline can abandon.
//
// getaddrinfo cannot be interrupted, and a resolver that stops answering would hold the
// caller for as long as resolv.conf allows (or longer, with nsswitch modules). Each
// lookup runs in a detached thread; the caller waits for it until its deadline and then
// walks away, leaving the thread to finish and free its own state. The number of
// lookups still running is bounded: beyond it new lookups fail at once as "try again".
#pragma once

#include <string>
#include <vector>

#include "cronlock/connection.hpp"

namespace cronlock {

struct Lookup {
	int error = 0;          // getaddrinfo's EAI_* code, 0 on success
	bool timed_out = false; // no answer before the deadline (error is then 0)
	std::vector<std::string> addresses; // numeric, in the resolver's order, no duplicates
};

Lookup resolve_host(const std::string &host, Deadline deadline);

// Lookups started and not yet finished (abandoned ones included).
int lookups_in_flight();

} // namespace cronlock
