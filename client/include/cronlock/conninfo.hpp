// cronlock/conninfo.hpp: connection strings: choosing one, completing it, and keeping
// passwords out of anything printed.
#pragma once

#include "cronlock/export.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cronlock/duration.hpp"

namespace cronlock {

using Getenv = std::function<const char *(const char *)>;

// --db, else $CRONLOCK_DB, else $DATABASE_URL, else "" (libpq's PG* variables).
CRONLOCK_API std::string choose_conninfo(const std::optional<std::string> &db_option, const Getenv &getenv);

class Logger;

// One entry of the conninfo's host list, tried in order (CONTRACT 2.1).
struct HostSpec {
	std::string host;     // a name, an IP literal, a socket directory, or "" (libpq's default)
	std::string hostaddr; // a numeric address given in the conninfo, or ""
	std::string port;     // "" leaves libpq's default

	bool needs_lookup() const; // a name to resolve (not an address, not a socket)
	bool operator==(const HostSpec &) const = default;
};

// What we connect with: libpq keyword/value pairs, the host list we walk ourselves, and
// the secrets to keep out of messages.
struct ConnectSettings {
	// Every option but host, hostaddr, port and target_session_attrs (set per attempt).
	std::vector<std::pair<std::string, std::string>> params;
	// Tried in order, each address with its own connect deadline. Empty when a service
	// file may name the hosts (service= or PGSERVICE without a host): libpq then walks
	// the list itself, under one deadline.
	std::vector<HostSpec> hosts;
	std::string target_session_attrs = "any";
	bool encryption_required = false; // sslmode require/verify-*, or gssencmode=require
	Millis connect_timeout{5000}; // per host address, name lookup included
	std::string display;          // the conninfo with its password masked
	std::shared_ptr<Logger> notices; // where the server's notices go; null: dropped
};

struct ConnectTuning {
	Millis connect_timeout{5000};
	Millis keepalives_idle{10000};
	Millis tcp_user_timeout{10000}; // capped at connect_timeout
	std::string application_name = "cronlock";
};

// Parses CONNINFO (key=value or URI; "" means the PG* variables), takes its host list
// apart, checks the option values libpq would refuse only when connecting (sslmode,
// gssencmode, channel_binding, target_session_attrs, ports), and adds what is unset:
// keepalives, tcp_user_timeout, fallback_application_name, and target_session_attrs
// read-write when several hosts are listed. On an error returns a message without any
// password.
struct PreparedConninfo {
	std::optional<ConnectSettings> settings;
	std::string error;
};
PreparedConninfo prepare_conninfo(const std::string &conninfo, const ConnectTuning &tuning,
								  const Getenv &getenv);

// Masks passwords in a conninfo string by syntax: password=... in key/value form,
// user:password@ and ?password= in URIs. Works on strings libpq cannot parse too.
CRONLOCK_API std::string mask_conninfo(const std::string &conninfo);

// Masks what is in a password position of any conninfo or URI quoted in `text` (see
// mask_conninfo). Nothing else: replacing every occurrence of a password would mangle
// messages when it is short ("a") and, worse, show where it occurs.
std::string scrub(std::string text);

} // namespace cronlock
