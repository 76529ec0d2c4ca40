// table.cpp: result printing for the admin subcommands.
#include "table.hpp"

#include <optional>

#include "cronlock/log.hpp"

namespace cronlock::cli {
namespace {

// Type oids from pg_type.dat (stable across releases).
constexpr unsigned oid_bool = 16, oid_int8 = 20, oid_int2 = 21, oid_int4 = 23, oid_oid = 26,
				   oid_float4 = 700, oid_float8 = 701, oid_numeric = 1700, oid_json = 114,
				   oid_jsonb = 3802, oid_text_array = 1009, oid_varchar_array = 1015,
				   oid_name_array = 1003;

bool is_number(std::string_view s)
{
	// numeric can be NaN or Infinity, which JSON has no numbers for.
	if (s.empty())
		return false;
	for (char c : s)
		if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
			return false;
	return true;
}

} // namespace

std::size_t display_width(std::string_view s)
{
	std::size_t w = 0;
	for (char c : s)
		if ((static_cast<unsigned char>(c) & 0xc0) != 0x80)
			++w;
	return w;
}

std::optional<std::vector<std::optional<std::string>>> parse_pg_array(std::string_view t)
{
	if (t.size() < 2 || t.front() != '{' || t.back() != '}')
		return std::nullopt;
	std::vector<std::optional<std::string>> out;
	std::size_t i = 1;
	const std::size_t end = t.size() - 1;
	if (i == end)
		return out;
	for (;;) {
		std::string item;
		bool quoted = false;
		if (t[i] == '"') {
			quoted = true;
			for (++i; i < end && t[i] != '"'; ++i) {
				if (t[i] == '\\' && i + 1 < end)
					++i;
				item += t[i];
			}
			if (i >= end)
				return std::nullopt;
			++i; // closing quote
		} else {
			while (i < end && t[i] != ',') {
				if (t[i] == '{' || t[i] == '"')
					return std::nullopt; // nested arrays are not ours
				item += t[i++];
			}
		}
		if (!quoted && item == "NULL")
			out.push_back(std::nullopt);
		else
			out.push_back(std::move(item));
		if (i == end)
			return out;
		if (t[i] != ',')
			return std::nullopt;
		++i;
	}
}

std::string json_cell(const Rows &rows, int row, int col)
{
	if (rows.is_null(row, col))
		return "null";
	std::string_view v = rows.get(row, col);
	switch (rows.type(col)) {
	case oid_bool: return v == "t" ? "true" : "false";
	case oid_int2:
	case oid_int4:
	case oid_int8:
	case oid_oid:
	case oid_float4:
	case oid_float8:
	case oid_numeric: return is_number(v) ? std::string(v) : json_string(v);
	case oid_json:
	case oid_jsonb: return std::string(v);
	case oid_text_array:
	case oid_varchar_array:
	case oid_name_array:
		if (auto items = parse_pg_array(v)) {
			std::string out = "[";
			for (std::size_t i = 0; i < items->size(); ++i) {
				if (i)
					out += ",";
				out += (*items)[i] ? json_string(*(*items)[i]) : "null";
			}
			return out + "]";
		}
		return json_string(v);
	default: return json_string(v);
	}
}

void print_json(std::FILE *out, const Rows &rows)
{
	std::string s = "[";
	for (int r = 0; r < rows.rows(); ++r) {
		s += r ? ",\n {" : "\n {";
		for (int c = 0; c < rows.columns(); ++c) {
			if (c)
				s += ", ";
			s += json_string(rows.name(c)) + ": " + json_cell(rows, r, c);
		}
		s += "}";
	}
	s += rows.rows() ? "\n]\n" : "]\n";
	std::fputs(s.c_str(), out);
}

void print_table(std::FILE *out, const Rows &rows)
{
	const int nc = rows.columns();
	std::vector<std::size_t> width(static_cast<std::size_t>(nc));
	auto cell = [&](int r, int c) -> std::string {
		if (rows.is_null(r, c))
			return "";
		std::string v(rows.get(r, c));
		for (auto &ch : v)
			if (ch == '\n' || ch == '\t')
				ch = ' ';
		return v;
	};
	for (int c = 0; c < nc; ++c) {
		width[c] = display_width(rows.name(c));
		for (int r = 0; r < rows.rows(); ++r)
			width[c] = std::max(width[c], display_width(cell(r, c)));
	}
	auto line = [&](auto get) {
		std::string s;
		for (int c = 0; c < nc; ++c) {
			std::string v = get(c);
			s += v;
			if (c + 1 < nc)
				s += std::string(width[c] - display_width(v) + 2, ' ');
		}
		while (!s.empty() && s.back() == ' ')
			s.pop_back();
		std::fputs((s + "\n").c_str(), out);
	};
	line([&](int c) { return std::string(rows.name(c)); });
	line([&](int c) { return std::string(width[c], '-'); });
	for (int r = 0; r < rows.rows(); ++r)
		line([&](int c) { return cell(r, c); });
	std::fprintf(out, "(%d row%s)\n", rows.rows(), rows.rows() == 1 ? "" : "s");
}

} // namespace cronlock::cli
