// table.hpp: query results for people (aligned columns) and machines (JSON).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "cronlock/connection.hpp"

namespace cronlock::cli {

void print_table(std::FILE *out, const Rows &rows);
void print_json(std::FILE *out, const Rows &rows);

// A JSON value for one cell, typed by the column's type oid (bool, numbers, text[]).
std::string json_cell(const Rows &rows, int row, int col);

// Parses a one-dimensional PostgreSQL array literal ({a,"b c",NULL}); nullopt if odd.
std::optional<std::vector<std::optional<std::string>>> parse_pg_array(std::string_view text);

// Display width of UTF-8 text (one column per code point).
std::size_t display_width(std::string_view s);

} // namespace cronlock::cli
