// resolve.cpp: getaddrinfo in a thread the caller may abandon at its deadline.
#include "resolve.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace cronlock {
namespace {

constexpr int max_lookups = 8; // abandoned lookups kept before new ones are refused
std::atomic<int> in_flight{0};

// Shared by the caller and the worker; whichever lets go last frees it.
struct Pending {
	std::mutex mu;
	std::condition_variable cv;
	bool done = false;
	Lookup result;
};

void run_lookup(const std::string &host, Pending &p)
{
	addrinfo hints{};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	addrinfo *list = nullptr;
	Lookup r;
	r.error = getaddrinfo(host.c_str(), nullptr, &hints, &list);
	for (addrinfo *a = list; r.error == 0 && a; a = a->ai_next) {
		char buf[NI_MAXHOST];
		if (getnameinfo(a->ai_addr, a->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) != 0)
			continue;
		if (std::find(r.addresses.begin(), r.addresses.end(), buf) == r.addresses.end())
			r.addresses.emplace_back(buf);
	}
	if (list)
		freeaddrinfo(list);
	if (r.error == 0 && r.addresses.empty())
		r.error = EAI_NONAME;
	std::lock_guard lock(p.mu);
	p.result = std::move(r);
	p.done = true;
	p.cv.notify_all();
}

} // namespace

int lookups_in_flight() { return in_flight.load(); }

Lookup resolve_host(const std::string &host, Deadline deadline)
{
	if (in_flight.fetch_add(1) >= max_lookups) {
		in_flight.fetch_sub(1);
		return Lookup{EAI_AGAIN, false, {}}; // the resolver is not answering: later
	}
	auto pending = std::make_shared<Pending>();
	try {
		std::thread([pending, host] {
			run_lookup(host, *pending);
			in_flight.fetch_sub(1);
		}).detach();
	} catch (const std::system_error &) {
		in_flight.fetch_sub(1);
		return Lookup{EAI_AGAIN, false, {}};
	}
	std::unique_lock lock(pending->mu);
	if (!pending->cv.wait_until(lock, deadline, [&] { return pending->done; }))
		return Lookup{0, true, {}};
	return std::move(pending->result);
}

} // namespace cronlock
