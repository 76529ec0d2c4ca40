// conninfo.cpp: choosing, completing and masking connection strings.
//
// Masking works on the text itself, so it also covers strings libpq refuses to parse
// (whose error messages may echo fragments of them).
#include "cronlock/conninfo.hpp"

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
			if (!uri && !is_space(before))
				continue; // inside a longer word or a value
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

int count_hosts(const std::string &list)
{
	return list.empty() ? 1 : 1 + static_cast<int>(std::count(list.begin(), list.end(), ','));
}

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

std::string scrub(std::string text, const std::vector<std::string> &secrets)
{
	std::vector<std::string> forms;
	for (const auto &s : secrets) {
		add_secret(forms, s);
		add_secret(forms, percent_encode(s));
		add_secret(forms, percent_decode(s));
	}
	// Longest first, so a secret containing another is replaced whole.
	std::sort(forms.begin(), forms.end(),
			  [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
	for (const auto &f : forms) {
		for (std::size_t at = text.find(f); at != std::string::npos; at = text.find(f, at + 4))
			text.replace(at, f.size(), "****");
	}
	return text;
}

PreparedConninfo prepare_conninfo(const std::string &conninfo, const ConnectTuning &tuning,
								  const Getenv &getenv)
{
	PreparedConninfo out;
	ConnectSettings cs;
	cs.connect_timeout = tuning.connect_timeout;
	cs.display = conninfo.empty() ? "(libpq PG* environment)" : mask_conninfo(conninfo);
	for (const auto &sp : password_spans(conninfo))
		add_secret(cs.secrets, conninfo.substr(sp.begin, sp.end - sp.begin));
	if (const char *pw = getenv("PGPASSWORD"))
		add_secret(cs.secrets, pw);

	char *err = nullptr;
	std::unique_ptr<PQconninfoOption, OptionsDeleter> opts(PQconninfoParse(conninfo.c_str(), &err));
	if (!opts) {
		std::string msg = err ? err : "out of memory";
		PQfreemem(err);
		while (!msg.empty() && msg.back() == '\n')
			msg.pop_back();
		out.error = scrub(msg, cs.secrets);
		return out;
	}

	auto has = [&](const char *key) {
		return std::any_of(cs.params.begin(), cs.params.end(),
						   [&](const auto &p) { return p.first == key; });
	};
	std::string hosts;
	for (PQconninfoOption *o = opts.get(); o->keyword; ++o) {
		if (!o->val)
			continue;
		cs.params.emplace_back(o->keyword, o->val);
		std::string_view k(o->keyword);
		if (k == "password" || k == "sslpassword")
			add_secret(cs.secrets, o->val);
		if (k == "host" || (k == "hostaddr" && hosts.empty()))
			hosts = o->val;
	}
	if (hosts.empty())
		if (const char *h = getenv("PGHOST"))
			hosts = h;
	cs.hosts = count_hosts(hosts);

	auto add = [&](const char *key, const char *env, std::string value) {
		if (!has(key) && !(env && getenv(env)))
			cs.params.emplace_back(key, std::move(value));
	};
	if (cs.hosts > 1)
		add("target_session_attrs", "PGTARGETSESSIONATTRS", "read-write");
	// libpq ignores connect_timeout when driven by PQconnectPoll (we use our own deadline),
	// but PQcancel and anything else blocking in libpq honour it. Minimum 2s, as libpq.
	add("connect_timeout", "PGCONNECT_TIMEOUT", seconds_ceil(tuning.connect_timeout, 2));
	add("keepalives", nullptr, "1");
	add("keepalives_idle", nullptr, seconds_ceil(tuning.keepalives_idle, 1));
	add("keepalives_interval", nullptr, "5");
	add("keepalives_count", nullptr, "3");
	add("tcp_user_timeout", nullptr, std::to_string(tuning.tcp_user_timeout.count()));
	add("fallback_application_name", nullptr, tuning.application_name);
	out.settings = std::move(cs);
	return out;
}

} // namespace cronlock
