// harness.cpp: setup and process plumbing for the integration tests.
#include "harness.hpp"

#include <algorithm>

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace it {

bool have_db()
{
	for (const char *v : {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE"})
		if (!std::getenv(v) || !*std::getenv(v))
			return false;
	return true;
}

double now_s()
{
	using namespace std::chrono;
	return duration<double>(steady_clock::now().time_since_epoch()).count();
}

Sql::Sql(const std::string &conninfo)
{
	PGconn *c = PQconnectdb(conninfo.c_str());
	if (PQstatus(c) != CONNECTION_OK) {
		std::string msg = PQerrorMessage(c);
		PQfinish(c);
		throw std::runtime_error("test connection failed: " + msg);
	}
	PQsetNoticeProcessor(c, [](void *, const char *) {}, nullptr);
	conn_ = c;
}

Sql::~Sql() { PQfinish(static_cast<PGconn *>(conn_)); }

std::vector<std::string> Sql::column(const std::string &query, const std::vector<std::string> &params)
{
	std::vector<const char *> values;
	for (const auto &p : params)
		values.push_back(p.c_str());
	PGresult *r = PQexecParams(static_cast<PGconn *>(conn_), query.c_str(),
							   static_cast<int>(values.size()), nullptr, values.data(), nullptr,
							   nullptr, 0);
	auto st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		std::string msg = PQresultErrorMessage(r);
		PQclear(r);
		throw std::runtime_error(query + ": " + msg);
	}
	std::vector<std::string> out;
	for (int i = 0; st == PGRES_TUPLES_OK && i < PQntuples(r); ++i)
		out.emplace_back(PQgetisnull(r, i, 0) ? "<NULL>" : PQgetvalue(r, i, 0));
	PQclear(r);
	return out;
}

std::optional<std::string> Sql::one(const std::string &query, const std::vector<std::string> &params)
{
	auto col = column(query, params);
	if (col.empty() || col.front() == "<NULL>")
		return std::nullopt;
	return col.front();
}

std::string unique_job(const std::string &name)
{
	static int counter = 0;
	return "it-" + std::to_string(getpid()) + "-" + std::to_string(++counter) + "-" + name;
}

std::string tcp_conninfo(const std::string &user, const std::string &password, const std::string &dbname)
{
	std::string db = dbname.empty() ? std::getenv("PGDATABASE") : dbname;
	return "host=127.0.0.1 port=" + std::string(std::getenv("PGPORT")) + " user=" + user +
		   " password=" + password + " dbname=" + db;
}

namespace {

std::string slurp(const std::string &path)
{
	std::ifstream f(path);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

std::string temp_path(const char *what)
{
	static int n = 0;
	return "/tmp/cronlock-it-" + std::to_string(getpid()) + "-" + std::to_string(++n) + "." + what;
}

} // namespace

Background::Background(std::vector<std::string> args, EnvList env)
	: out_path_(temp_path("out")), err_path_(temp_path("err")), start_(now_s())
{
	// The tests read the log lines on stderr: never let --log-to auto send them to syslog
	// (a host with /dev/log), unless a test chooses its destination itself.
	if (!args.empty() && args[0] == "run" &&
		std::none_of(args.begin(), args.end(), [](const std::string &a) { return a.rfind("--log-to", 0) == 0; }))
		args.insert(args.begin() + 1, {"--log-to", "stderr"});
	args.insert(args.begin(), cronlock_binary());
	pid_ = fork();
	if (pid_ == 0) {
		int o = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1);
		dup2(e, 2);
		for (const auto &[k, v] : env)
			setenv(k.c_str(), v.c_str(), 1);
		std::vector<char *> argv;
		for (auto &a : args)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		execv(argv[0], argv.data());
		_exit(99);
	}
}

Background::~Background()
{
	if (!reaped_ && pid_ > 0) {
		kill(pid_, SIGKILL);
		waitpid(pid_, nullptr, 0);
	}
	unlink(out_path_.c_str());
	unlink(err_path_.c_str());
}

std::string Background::err() const { return slurp(err_path_); }
std::string Background::out() const { return slurp(out_path_); }

CliResult Background::wait(double timeout_s)
{
	CliResult r;
	int ws = 0;
	double deadline = now_s() + timeout_s;
	for (;;) {
		pid_t p = waitpid(pid_, &ws, WNOHANG);
		if (p == pid_)
			break;
		if (now_s() > deadline) {
			kill(pid_, SIGKILL);
			waitpid(pid_, &ws, 0);
			ADD_FAILURE() << "cronlock did not exit within " << timeout_s << "s";
			break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	reaped_ = true;
	r.seconds = now_s() - start_;
	r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	r.out = out();
	r.err = err();
	return r;
}

std::string cronlock_binary()
{
	const char *b = std::getenv("CRONLOCK_BIN");
	return b && *b ? b : CRONLOCK_BINARY;
}

CliResult run_cli(std::vector<std::string> args, EnvList env, double timeout_s)
{
	Background b(std::move(args), std::move(env));
	return b.wait(timeout_s);
}

bool wait_for(const std::function<bool()> &cond, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	while (!cond()) {
		if (now_s() > deadline)
			return cond();
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	return true;
}

std::vector<std::string> tagged(const std::string &text, const std::string &tag)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("[" + tag + "]", 0) == 0)
			out.push_back(line);
	return out;
}

std::string field(const std::string &line, const std::string &key)
{
	std::string pat = " " + key + "=";
	auto at = line.find(pat);
	if (at == std::string::npos)
		return "";
	at += pat.size();
	if (at < line.size() && line[at] == '"') {
		std::string v;
		for (++at; at < line.size() && line[at] != '"'; ++at) {
			if (line[at] == '\\' && at + 1 < line.size())
				++at;
			v += line[at];
		}
		return v;
	}
	auto end = line.find(' ', at);
	return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

bool process_alive(pid_t pid)
{
	if (kill(pid, 0) != 0)
		return false;
	// A zombie is dead for our purposes.
	std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
	std::string s;
	std::getline(stat, s);
	auto close = s.rfind(')');
	return close == std::string::npos || close + 2 >= s.size() || s[close + 2] != 'Z';
}

ScratchDb::ScratchDb() : name_("cronlock_it_" + std::to_string(getpid()) + "_noext")
{
	Sql sql;
	sql.column("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
	sql.column("CREATE DATABASE " + name_);
}

ScratchDb::~ScratchDb()
{
	try {
		Sql sql;
		sql.column("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
	} catch (const std::exception &) {
	}
}

// Every suite needs the extension in the test database; created once, kept.
class ClusterEnvironment : public ::testing::Environment {
  public:
	void SetUp() override
	{
		if (!have_db()) {
			std::fprintf(stderr,
						 "\n*** cronlock integration tests SKIPPED: PGHOST, PGPORT, PGUSER and "
						 "PGDATABASE must name a running cluster (superuser). ***\n\n");
			return;
		}
		Sql sql;
		sql.column("CREATE EXTENSION IF NOT EXISTS cron_lock");
	}
};

const auto *registered = ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

} // namespace it
