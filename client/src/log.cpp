// log.cpp: the [CRON_*] event lines, logfmt or JSON, one write(2) per line.
#include "cronlock/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

namespace cronlock {
namespace {

const char hexdigits[] = "0123456789abcdef";

// Length of a valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i)
{
	auto b = static_cast<unsigned char>(s[i]);
	std::size_t n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
	if (n == 0 || i + n > s.size())
		return 0;
	for (std::size_t k = 1; k < n; ++k)
		if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80)
			return 0;
	return n;
}

void append_value(std::string &out, const Field::Value &v, LogFormat f)
{
	if (auto s = std::get_if<std::string_view>(&v))
		out += f == LogFormat::json ? json_string(*s) : logfmt_value(*s);
	else if (auto i = std::get_if<std::int64_t>(&v))
		out += std::to_string(*i);
	else if (auto b = std::get_if<bool>(&v))
		out += *b ? "true" : "false";
}

} // namespace

std::string logfmt_value(std::string_view v)
{
	bool bare = !v.empty();
	for (char c : v) {
		auto u = static_cast<unsigned char>(c);
		if (u <= ' ' || u == '"' || u == '=' || u == '\\' || u == 0x7f)
			bare = false;
	}
	if (bare)
		return std::string(v);
	std::string out = "\"";
	for (char c : v) {
		auto u = static_cast<unsigned char>(c);
		switch (c) {
		case '"': out += "\\\""; break;
		case '\\': out += "\\\\"; break;
		case '\n': out += "\\n"; break;
		case '\t': out += "\\t"; break;
		case '\r': out += "\\r"; break;
		default:
			if (u < 0x20 || u == 0x7f) {
				out += "\\x";
				out += hexdigits[u >> 4];
				out += hexdigits[u & 15];
			} else {
				out += c;
			}
		}
	}
	return out + "\"";
}

std::string json_string(std::string_view v)
{
	std::string out = "\"";
	for (std::size_t i = 0; i < v.size(); ++i) {
		char c = v[i];
		auto u = static_cast<unsigned char>(c);
		switch (c) {
		case '"': out += "\\\""; continue;
		case '\\': out += "\\\\"; continue;
		case '\n': out += "\\n"; continue;
		case '\t': out += "\\t"; continue;
		case '\r': out += "\\r"; continue;
		default: break;
		}
		if (u < 0x20) {
			out += "\\u00";
			out += hexdigits[u >> 4];
			out += hexdigits[u & 15];
		} else if (u < 0x80) {
			out += c;
		} else if (std::size_t n = utf8_length(v, i)) {
			out.append(v.substr(i, n));
			i += n - 1;
		} else {
			out += "\\ufffd"; // not UTF-8: keep the line parseable
		}
	}
	return out + "\"";
}

std::string utc_timestamp()
{
	using namespace std::chrono;
	auto now = system_clock::now();
	std::time_t t = system_clock::to_time_t(now);
	auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
	std::tm tm{};
	gmtime_r(&t, &tm);
	char buf[64]; // generous: the compiler cannot bound every int field
	std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
				  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
	return buf;
}

Logger::Logger(LogFormat format, bool quiet, int fd)
	: format_(format), quiet_(quiet), fd_(fd), pid_(static_cast<long>(getpid()))
{
}

void Logger::set_sink(Sink sink)
{
	std::lock_guard lock(mu_);
	sink_ = std::move(sink);
}

void Logger::set_context(std::string job, std::string instance)
{
	std::lock_guard lock(mu_);
	ctx_ = LogContext{std::move(job), std::move(instance)};
}

std::string Logger::format_line(std::string_view tag, std::string_view ts,
								std::initializer_list<Field> fields) const
{
	LogContext ctx;
	{
		std::lock_guard lock(mu_);
		ctx = ctx_;
	}
	return format_line(ctx, tag, ts, fields);
}

void Logger::log(Level level, std::string_view tag, std::initializer_list<Field> fields)
{
	LogContext ctx;
	{
		std::lock_guard lock(mu_);
		ctx = ctx_;
	}
	log(ctx, level, tag, fields);
}

std::string Logger::format_line(const LogContext &ctx, std::string_view tag, std::string_view ts,
								std::initializer_list<Field> fields) const
{
	std::string out;
	std::vector<Field> all{{"ts", ts}, {"job", ctx.job}, {"instance", ctx.instance},
						   {"pid", static_cast<std::int64_t>(pid_)}};
	all.insert(all.end(), fields.begin(), fields.end());
	if (format_ == LogFormat::json) {
		out = "{\"tag\":" + json_string(tag);
		for (const auto &f : all) {
			if (std::holds_alternative<std::monostate>(f.value))
				continue;
			out += "," + json_string(f.key) + ":";
			append_value(out, f.value, format_);
		}
		return out + "}";
	}
	out = "[" + std::string(tag) + "]";
	for (const auto &f : all) {
		if (std::holds_alternative<std::monostate>(f.value))
			continue;
		out += " ";
		out += f.key;
		out += "=";
		append_value(out, f.value, format_);
	}
	return out;
}

void Logger::log(const LogContext &ctx, Level level, std::string_view tag,
				 std::initializer_list<Field> fields)
{
	if (quiet_ && level == Level::info)
		return;
	std::string line = format_line(ctx, tag, utc_timestamp(), fields) + "\n";
	std::lock_guard lock(mu_); // one line at a time
	if (sink_) {
		sink_(level, tag, fields, line);
		return;
	}
	const char *p = line.data();
	std::size_t left = line.size();
	while (left > 0) {
		ssize_t n = ::write(fd_, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; // stderr closed: nothing sensible left to do
		p += n;
		left -= static_cast<std::size_t>(n);
	}
}

} // namespace cronlock
