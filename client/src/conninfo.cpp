// conninfo.cpp: choosing, completing and masking connection strings.
//
// Masking works on the text itself, by syntax, so it also covers strings libpq refuses
// to parse (whose error messages may echo fragments of them).
#include "cronlock/conninfo.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace cronlock {
namespace {

struct Span {
	std::size_t begin, end; // the password's characters, quotes excluded
};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Every password by syntax: URI user:password@, ?password= / &password=, and
// password = value (quoted or not) in key/value strings; sslpassword (the key's
// passphrase) likewise.
std::vector<Span> password_spans(const std::string &s)
{
	std::vector<Span> spans;
	for (std::size_t at = s.find("://"); at != std::string::npos; at = s.find("://", at + 3)) {
		std::size_t start = at + 3, i = start;
		std::size_t colon = std::string::npos;
		while (i < s.size() && s[i] != '@' && s[i] != '/' && s[i] != '?' && !is_space(s[i])) {
			if (s[i] == ':' && colon == std::string::npos)
				colon = i;
			++i;
		}
		if (i < s.size() && s[i] == '@' && colon != std::string::npos)
			spans.push_back({colon + 1, i});
	}
	for (const std::string key : {"password", "sslpassword"}) {
		for (std::size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + 1)) {
			char before = at == 0 ? ' ' : s[at - 1];
			bool uri = before == '?' || before == '&';
			if (!uri && !is_space(before) && before != '"')
				continue; // inside a longer word or a value ('"': quoted in a message)
			std::size_t i = at + key.size();
			while (i < s.size() && is_space(s[i]))
				++i;
			if (i >= s.size() || s[i] != '=')
				continue;
			++i;
			while (!uri && i < s.size() && is_space(s[i]))
				++i;
			if (!uri && i < s.size() && s[i] == '\'') {
				std::size_t j = ++i;
				while (j < s.size() && s[j] != '\'') {
					if (s[j] == '\\' && j + 1 < s.size())
						++j;
					++j;
				}
				spans.push_back({i, j});
				continue;
			}
			std::size_t j = i;
			while (j < s.size() && !is_space(s[j]) && !(uri && (s[j] == '&' || s[j] == '#')))
				++j;
			spans.push_back({i, j});
		}
	}
	return spans;
}

int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

std::string percent_decode(const std::string &s)
{
	std::string out;
	for (std::size_t i = 0; i < s.size(); ++i) {
		if (s[i] == '%' && i + 2 < s.size()) {
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi >= 0 && lo >= 0) {
				out += static_cast<char>(hi * 16 + lo);
				i += 2;
				continue;
			}
		}
		out += s[i];
	}
	return out;
}

std::string percent_encode(const std::string &s)
{
	static const char hex[] = "0123456789ABCDEF";
	std::string out;
	for (unsigned char c : s) {
		if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			out += static_cast<char>(c);
		else {
			out += '%';
			out += hex[c >> 4];
			out += hex[c & 15];
		}
	}
	return out;
}

void add_secret(std::vector<std::string> &secrets, const std::string &s)
{
	if (!s.empty() && std::find(secrets.begin(), secrets.end(), s) == secrets.end())
		secrets.push_back(s);
}

struct OptionsDeleter {
	void operator()(PQconninfoOption *o) const { PQconninfoFree(o); }
};

std::string seconds_ceil(Millis d, long at_least)
{
	long s = static_cast<long>((d.count() + 999) / 1000);
	return std::to_string(std::max(s, at_least));
}

} // namespace

std::string choose_conninfo(const std::optional<std::string> &db_option, const Getenv &getenv)
{
	if (db_option)
		return *db_option;
	for (const char *name : {"CRONLOCK_DB", "DATABASE_URL"}) {
		const char *v = getenv(name);
		if (v && *v)
			return v;
	}
	return "";
}

std::string mask_conninfo(const std::string &conninfo)
{
	auto spans = password_spans(conninfo);
	std::sort(spans.begin(), spans.end(), [](Span a, Span b) { return a.begin < b.begin; });
	std::vector<Span> merged; // spans may nest (a URI inside a quoted password)
	for (const auto &sp : spans) {
		if (!merged.empty() && sp.begin <= merged.back().end)
			merged.back().end = std::max(merged.back().end, sp.end);
		else
			merged.push_back(sp);
	}
	std::string out = conninfo;
	for (auto it = merged.rbegin(); it != merged.rend(); ++it)
		out.replace(it->begin, it->end - it->begin, "****");
	return out;
}

std::string scrub(std::string text) { return mask_conninfo(text); }

bool HostSpec::needs_lookup() const
{
	if (!hostaddr.empty() || host.empty() || host.front() == '/' || host.front() == '@')
		return false;
	unsigned char buf[sizeof(in6_addr)];
	return inet_pton(AF_INET, host.c_str(), buf) != 1 && inet_pton(AF_INET6, host.c_str(), buf) != 1;
}

PreparedConninfo prepare_conninfo(const std::string &conninfo, const ConnectTuning &tuning,
								  const Getenv &getenv)
{
	PreparedConninfo out;
	ConnectSettings cs;
	cs.connect_timeout = tuning.connect_timeout;
	cs.display = conninfo.empty() ? "(libpq PG* environment)" : mask_conninfo(conninfo);
	std::vector<std::string> secrets; // to withhold a parse error that quotes one
	for (const auto &sp : password_spans(conninfo))
		add_secret(secrets, conninfo.substr(sp.begin, sp.end - sp.begin));

	char *err = nullptr;
	std::unique_ptr<PQconninfoOption, OptionsDeleter> opts(PQconninfoParse(conninfo.c_str(), &err));
	if (!opts) {
		std::string msg = err ? err : "out of memory";
		PQfreemem(err);
		while (!msg.empty() && msg.back() == '\n')
			msg.pop_back();
		bool quotes_secret = false;
		for (const auto &sec : secrets)
			for (const auto &form : {sec, percent_encode(sec), percent_decode(sec)})
				quotes_secret = quotes_secret || msg.find(form) != std::string::npos;
		out.error = quotes_secret ? "libpq cannot parse it (its message is withheld: it quotes "
									"the password)"
								  : scrub(msg);
		return out;
	}

	// Every value as libpq will see it: the conninfo's, else the PG* variable's.
	std::vector<std::pair<std::string, std::string>> given;
	std::string host_list, hostaddr_list, port_list, service;
	std::optional<std::string> tsa;
	for (PQconninfoOption *o = opts.get(); o->keyword; ++o)
		if (std::string_view(o->keyword) == "service")
			service = o->val ? o->val : getenv("PGSERVICE") ? getenv("PGSERVICE") : "";
	for (PQconninfoOption *o = opts.get(); o->keyword; ++o) {
		std::string_view k(o->keyword);
		const char *v = o->val;
		// A service file's values win over the PG* variables (libpq reads it first).
		bool addressing = k == "host" || k == "hostaddr" || k == "port";
		if (!v && o->envvar && (addressing ? service.empty() : k == "target_session_attrs"))
			v = getenv(o->envvar);
		if (!v)
			continue;
		if (k == "host")
			host_list = v;
		else if (k == "hostaddr")
			hostaddr_list = v;
		else if (k == "port")
			port_list = v;
		else if (k == "target_session_attrs")
			tsa = v;
		else
			cs.params.emplace_back(k, v);
	}
	auto value_of = [&](std::string_view key) -> std::string {
		for (PQconninfoOption *o = opts.get(); o->keyword; ++o)
			if (key == o->keyword) {
				const char *v = o->val ? o->val : o->envvar ? getenv(o->envvar) : nullptr;
				return v ? v : "";
			}
		return "";
	};

	// Values libpq refuses only once it connects, or that we interpret ourselves.
	struct Allowed {
		const char *key;
		std::vector<std::string_view> values;
	};
	static const Allowed allowed[] = {
		{"sslmode", {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
		{"gssencmode", {"disable", "prefer", "require"}},
		{"channel_binding", {"disable", "prefer", "require"}},
		{"target_session_attrs",
		 {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}},
	};
	for (const auto &a : allowed) {
		std::string v = std::string_view(a.key) == "target_session_attrs" ? tsa.value_or("") : value_of(a.key);
		if (!v.empty() && std::find(a.values.begin(), a.values.end(), v) == a.values.end()) {
			out.error = std::string("invalid ") + a.key + " value: \"" + v + "\"";
			return out;
		}
	}
	std::string sslmode = value_of("sslmode");
	cs.encryption_required = sslmode == "require" || sslmode == "verify-ca" ||
							 sslmode == "verify-full" || value_of("gssencmode") == "require";

	auto split = [](const std::string &list) {
		std::vector<std::string> items;
		std::size_t pos = 0;
		for (;;) {
			std::size_t comma = list.find(',', pos);
			items.push_back(list.substr(pos, comma == std::string::npos ? comma : comma - pos));
			if (comma == std::string::npos)
				return items;
			pos = comma + 1;
		}
	};
	auto hosts = split(host_list), addrs = split(hostaddr_list), ports = split(port_list);
	std::size_t n = std::max(hosts.size(), addrs.size());
	if ((hosts.size() != 1 && hosts.size() != n) || (addrs.size() != 1 && addrs.size() != n) ||
		(ports.size() != 1 && ports.size() != n)) {
		out.error = "the host, hostaddr and port lists have different lengths";
		return out;
	}
	for (const auto &p : ports) {
		bool digits = !p.empty() && p.size() <= 5 &&
					  std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
		if (!p.empty() && (!digits || std::stoi(p) < 1 || std::stoi(p) > 65535)) {
			out.error = "invalid port number: \"" + p + "\"";
			return out;
		}
	}
	// A service file may name the hosts; its values lose to the conninfo's but win
	// over the PG* variables, so without a host of our own libpq must walk the list.
	bool from_service = !service.empty() && host_list.empty() && hostaddr_list.empty();
	if (from_service) {
		if (!port_list.empty())
			cs.params.emplace_back("port", port_list);
		if (tsa)
			cs.params.emplace_back("target_session_attrs", *tsa);
	} else {
		for (std::size_t i = 0; i < n; ++i)
			cs.hosts.push_back({hosts.size() == 1 ? hosts[0] : hosts[i],
								addrs.size() == 1 ? addrs[0] : addrs[i],
								ports.size() == 1 ? ports[0] : ports[i]});
		cs.target_session_attrs = tsa.value_or(n > 1 ? "read-write" : "any");
	}

	auto add = [&](const char *key, std::string value) {
		bool has = std::any_of(cs.params.begin(), cs.params.end(),
							   [&](const auto &p) { return p.first == key; });
		if (!has && value_of(key).empty())
			cs.params.emplace_back(key, std::move(value));
	};
	add("keepalives", "1");
	add("keepalives_idle", seconds_ceil(tuning.keepalives_idle, 1));
	add("keepalives_interval", "5");
	add("keepalives_count", "3");
	// Unacknowledged data may not outlive one connection attempt's budget.
	add("tcp_user_timeout",
		std::to_string(std::min(tuning.tcp_user_timeout, tuning.connect_timeout).count()));
	add("fallback_application_name", tuning.application_name);
	out.settings = std::move(cs);
	return out;
}

} // namespace cronlock
