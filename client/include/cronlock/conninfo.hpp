// cronlock/conninfo.hpp: connection strings: choosing one, completing it, and keeping
// passwords out of anything printed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cronlock/duration.hpp"

namespace cronlock {

using Getenv = std::function<const char *(const char *)>;

// --db, else $CRONLOCK_DB, else $DATABASE_URL, else "" (libpq's PG* variables).
std::string choose_conninfo(const std::optional<std::string> &db_option, const Getenv &getenv);

// What we connect with: libpq keyword/value pairs and the secrets to scrub from messages.
struct ConnectSettings {
	std::vector<std::pair<std::string, std::string>> params;
	std::vector<std::string> secrets;
	int hosts = 1;          // number of hosts libpq may try
	Millis connect_timeout; // per host
	std::string display;    // the conninfo with its password masked
};

struct ConnectTuning {
	Millis connect_timeout{5000};
	Millis keepalives_idle{10000};
	Millis tcp_user_timeout{10000};
	std::string application_name = "cronlock";
};

// Parses CONNINFO (key=value or URI; "" means the PG* variables) and adds what is unset:
// connect_timeout, keepalives, tcp_user_timeout, fallback_application_name, and
// target_session_attrs=read-write when several hosts are listed. On a parse error
// returns the scrubbed libpq message.
struct PreparedConninfo {
	std::optional<ConnectSettings> settings;
	std::string error;
};
PreparedConninfo prepare_conninfo(const std::string &conninfo, const ConnectTuning &tuning,
								  const Getenv &getenv);

// Masks passwords in a conninfo string by syntax: password=... in key/value form,
// user:password@ and ?password= in URIs. Works on strings libpq cannot parse too.
std::string mask_conninfo(const std::string &conninfo);

// Replaces every occurrence of each secret (and its %-encoded form) with "****".
std::string scrub(std::string text, const std::vector<std::string> &secrets);

} // namespace cronlock
