// harness.hpp: what the integration tests share: the cluster from PG* variables, a
// plain libpq connection for setup and checks, and running the cronlock binary.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace it {

// PGHOST, PGPORT, PGUSER and PGDATABASE all set.
bool have_db();

#define REQUIRE_DB()                                                                               \
	do {                                                                                           \
		if (!::it::have_db())                                                                      \
			GTEST_SKIP() << "no cluster: set PGHOST PGPORT PGUSER PGDATABASE (a superuser)";   \
	} while (0)

// A superuser connection for setup and for checking what the client did.
class Sql {
  public:
	explicit Sql(const std::string &conninfo = "");
	~Sql();
	// First column of the first row (nullopt for NULL or no row); throws on error.
	std::optional<std::string> one(const std::string &query, const std::vector<std::string> &params = {});
	// Every row's first column.
	std::vector<std::string> column(const std::string &query, const std::vector<std::string> &params = {});

  private:
	void *conn_;
};

// A job name no other test (or earlier run) uses.
std::string unique_job(const std::string &name);

// libpq conninfo of the test cluster over TCP on 127.0.0.1 (for roles with passwords).
std::string tcp_conninfo(const std::string &user, const std::string &password,
						 const std::string &dbname = "");

struct CliResult {
	int status = -1; // exit status, 128+N for a signal
	std::string out, err;
	double seconds = 0;
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

class Background {
  public:
	Background(std::vector<std::string> args, EnvList env);
	~Background();
	pid_t pid() const { return pid_; }
	std::string err() const; // stderr so far
	std::string out() const;
	CliResult wait(double timeout_s = 60);

  private:
	pid_t pid_ = -1;
	std::string out_path_, err_path_;
	double start_ = 0;
	bool reaped_ = false;
};

// $CRONLOCK_BIN, else the cronlock built beside these tests.
std::string cronlock_binary();

CliResult run_cli(std::vector<std::string> args, EnvList env = {}, double timeout_s = 60);

// Polls cond every 20ms until true or the timeout; returns cond's last value.
bool wait_for(const std::function<bool()> &cond, double timeout_s);

double now_s();

// Log lines of `text` that start with [TAG] (logfmt).
std::vector<std::string> tagged(const std::string &text, const std::string &tag);
// The value of key in a logfmt line ("" when absent); quotes removed.
std::string field(const std::string &line, const std::string &key);

bool process_alive(pid_t pid);

// A database without the extension, dropped at destruction.
class ScratchDb {
  public:
	ScratchDb();
	~ScratchDb();
	const std::string &name() const { return name_; }

  private:
	std::string name_;
};

} // namespace it
