// ops_common.cpp: helpers of the operating subcommands.
#include "ops_common.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cronlock::cli {

int report_ops_error(const Error &e, bool user_values)
{
	if (user_values && e.sqlstate.size() == 5 && e.sqlstate.starts_with("22")) {
		std::fprintf(stderr, "cronlock: %s (SQLSTATE %s)\n", e.message.c_str(), e.sqlstate.c_str());
		return exit_usage;
	}
	int status = report_error(e);
	if (e.cls == ErrorClass::extension_missing)
		std::fprintf(stderr, "cronlock: hint: this subcommand needs cron_lock 1.2 or later "
							 "(ALTER EXTENSION cron_lock UPDATE, or cronlock install for the "
							 "plain-SQL edition)\n");
	return status;
}

std::string ts_column(bool json, const std::string &expr, const std::string &name)
{
	if (!json)
		return expr + " AS " + name;
	// infinity (a pause until resumed) has no calendar form: its own text.
	return "CASE WHEN pg_catalog.isfinite(" + expr + ") THEN pg_catalog.to_char(" + expr +
		   " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') ELSE (" + expr +
		   ")::text END AS " + name;
}

std::string write_file_atomically(const std::string &path, const std::string &data)
{
	if (path == "-") {
		if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() || std::fflush(stdout) != 0)
			return std::string("cannot write to standard output: ") + std::strerror(errno);
		return "";
	}
	// The temporary name starts with a dot and does not end in .prom, so that
	// node_exporter never reads a half-written file.
	std::string dir = ".", base = path;
	if (auto slash = path.rfind('/'); slash != std::string::npos) {
		dir = slash == 0 ? "/" : path.substr(0, slash);
		base = path.substr(slash + 1);
	}
	if (base.empty())
		return "cannot write " + path + ": not a file name";
	std::string tmp = (dir == "/" ? "" : dir) + "/." + base + ".XXXXXX";
	int fd = ::mkstemp(tmp.data());
	if (fd < 0)
		return "cannot create a temporary file in " + dir + ": " + std::strerror(errno);
	auto fail = [&](const char *step) {
		std::string m = std::string("cannot ") + step + " " + tmp + ": " + std::strerror(errno);
		::close(fd);
		::unlink(tmp.c_str());
		return m;
	};
	struct stat old;
	mode_t mode = ::stat(path.c_str(), &old) == 0 ? (old.st_mode & 07777) : 0644;
	if (::fchmod(fd, mode) != 0)
		return fail("set the mode of");
	for (std::size_t done = 0; done < data.size();) {
		ssize_t n = ::write(fd, data.data() + done, data.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("write");
		done += static_cast<std::size_t>(n);
	}
	if (::fsync(fd) != 0)
		return fail("flush");
	if (::close(fd) != 0) {
		std::string m = "cannot close " + tmp + ": " + std::strerror(errno);
		::unlink(tmp.c_str());
		return m;
	}
	if (::rename(tmp.c_str(), path.c_str()) != 0) {
		std::string m = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
		::unlink(tmp.c_str());
		return m;
	}
	return "";
}

std::string html_escape(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (char c : s) {
		switch (c) {
		case '&': out += "&amp;"; break;
		case '<': out += "&lt;"; break;
		case '>': out += "&gt;"; break;
		case '"': out += "&quot;"; break;
		case '\'': out += "&#39;"; break;
		default: out += c;
		}
	}
	return out;
}

std::string prom_label(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (char c : s) {
		if (c == '\\')
			out += "\\\\";
		else if (c == '"')
			out += "\\\"";
		else if (c == '\n')
			out += "\\n";
		else
			out += c;
	}
	return out;
}

std::string pg_text_array(const std::vector<std::string> &items)
{
	std::string out = "{";
	for (std::size_t i = 0; i < items.size(); ++i) {
		out += i ? ",\"" : "\"";
		for (char c : items[i]) {
			if (c == '"' || c == '\\')
				out += '\\';
			out += c;
		}
		out += '"';
	}
	return out + "}";
}

} // namespace cronlock::cli
