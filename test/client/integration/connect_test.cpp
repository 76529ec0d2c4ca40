// Connecting: permanent misconfigurations end in one line and exit 78 at once, transient
// trouble stays transient, each host of a list gets its own deadline (a first host that
// accepts and never answers does not stop the second), sockets and services still work,
// cancel threads stay bounded on a frozen server, notices reach the log.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "client_impl.hpp"
#include "harness.hpp"

using namespace std::chrono_literals;
using it::field;
using it::run_cli;
using it::tagged;

namespace {

// A loopback port that completes TCP handshakes and never says a word.
struct SilentPort {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = 0;
	SilentPort()
	{
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
		socklen_t len = sizeof a;
		getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
		port = ntohs(a.sin_port);
		listen(fd, 64);
	}
	~SilentPort() { close(fd); }
};

std::string base() { return "dbname=" + std::string(std::getenv("PGDATABASE")) + " user=" + std::getenv("PGUSER"); }
std::string tcp() { return base() + " host=127.0.0.1 port=" + std::getenv("PGPORT"); }

// `cronlock run` with CONNINFO: must be refused permanently, quickly, in one try.
void expect_permanent(const std::string &conninfo, const std::string &error_class)
{
	SCOPED_TRACE(conninfo);
	auto r = run_cli({"run", "--db", conninfo, "--job", it::unique_job("perm"), "--retries", "3",
					  "--backoff", "500ms", "--", "echo", "ran"});
	EXPECT_EQ(r.status, 78) << r.err;
	EXPECT_LT(r.seconds, 2.0);
	EXPECT_EQ(r.out, "");
	auto lock = tagged(r.err, "CRON_LOCK");
	ASSERT_EQ(lock.size(), 1u) << r.err;
	EXPECT_EQ(field(lock[0], "error_class"), error_class) << lock[0];
	EXPECT_FALSE(field(lock[0], "message").empty());
	ASSERT_EQ(tagged(r.err, "CRON_SKIP").size(), 1u);
	EXPECT_EQ(field(tagged(r.err, "CRON_SKIP")[0], "reason"), "PERMANENT_ERROR");
}

std::string sh(const std::string &cmd)
{
	std::string out;
	FILE *p = popen(cmd.c_str(), "r");
	char buf[512];
	while (p && fgets(buf, sizeof buf, p))
		out += buf;
	if (p)
		pclose(p);
	return out;
}

} // namespace

TEST(Connect, PermanentMisconfigurationsExit78AtOnce)
{
	REQUIRE_DB();
	expect_permanent(tcp() + " sslmode=bogus", "bad_conninfo");
	expect_permanent(tcp() + " sslmode=require", "tls_failed"); // the test cluster has no TLS
	expect_permanent(tcp() + " sslmode=verify-full sslrootcert=/nonexistent/root.crt", "tls_failed");
	expect_permanent(base() + " host=no-such-host.invalid port=5432", "host_not_found");
	// A pure refusal stays transient: a skip, not 78.
	auto r = run_cli({"run", "--db", base() + " host=127.0.0.1 port=1", "--job", it::unique_job("t"),
					  "--retries", "0", "--", "true"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(field(tagged(r.err, "CRON_LOCK").at(0), "error_class"), "connection_refused");
}

// A server with TLS on: a certificate nobody trusts is permanent; require still works.
TEST(Connect, CertificateVerificationFailureIsPermanent)
{
	REQUIRE_DB();
	it::Sql sql;
	const std::string data = sql.one("SHOW data_directory").value();
	const std::string dir = "/tmp/cronlock-it-tls-" + std::to_string(getpid());
	std::filesystem::create_directories(dir);
	// The server's self-signed certificate, and an unrelated CA the client trusts.
	std::string gen =
		"cd " + dir + " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
		"-keyout server.key -out server.crt 2>/dev/null && openssl req -x509 -newkey rsa:2048 "
		"-nodes -days 1 -subj /CN=other -keyout other.key -out other.crt 2>/dev/null && "
		"cp server.crt server.key " + data + "/ && chown --reference=" + data + "/PG_VERSION " +
		data + "/server.crt " + data + "/server.key && chmod 600 " + data + "/server.key && echo ok";
	ASSERT_EQ(sh(gen), "ok\n");
	sql.column("ALTER SYSTEM SET ssl = on");
	sql.column("SELECT pg_reload_conf()");
	ASSERT_TRUE(it::wait_for([&] { return it::Sql().one("SHOW ssl") == "on"; }, 10));

	expect_permanent(tcp() + " sslmode=verify-full sslrootcert=" + dir + "/other.crt", "tls_failed");
	expect_permanent(tcp() + " sslmode=verify-ca sslrootcert=" + dir + "/other.crt", "tls_failed");
	auto r = run_cli({"run", "--db", tcp() + " sslmode=require", "--job", it::unique_job("tls"), "--",
					  "true"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(tagged(r.err, "CRON_RUN").size(), 1u) << r.err;
	r = run_cli({"run", "--db", tcp() + " sslmode=verify-full sslrootcert=" + dir + "/server.crt",
				 "--job", it::unique_job("tls"), "--", "true"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(tagged(r.err, "CRON_RUN").size(), 1u) << r.err;

	sql.column("ALTER SYSTEM RESET ssl");
	sql.column("SELECT pg_reload_conf()");
	std::filesystem::remove_all(dir);
}

// The first host accepts TCP and never answers: the second is tried after one
// --connect-timeout, and the run happens within two.
TEST(Connect, FailsOverPastAHostThatNeverAnswers)
{
	REQUIRE_DB();
	SilentPort hung;
	const std::string port = std::getenv("PGPORT");
	for (const std::string hosts : {"127.0.0.1,127.0.0.1", "localhost,localhost"}) {
		SCOPED_TRACE(hosts);
		auto r = run_cli({"run", "--db",
						  base() + " host=" + hosts + " port=" + std::to_string(hung.port) + "," + port,
						  "--connect-timeout", "1s", "--job", it::unique_job("failover"), "--",
						  "echo", "ran"});
		EXPECT_EQ(r.status, 0) << r.err;
		EXPECT_EQ(r.out, "ran\n") << r.err;
		EXPECT_LT(r.seconds, 2.0) << r.err;
		EXPECT_GT(r.seconds, 0.9) << r.err; // it did wait for the first host
	}
}

// Unix sockets (PGHOST a directory), the PG* variables alone and a service file.
TEST(Connect, SocketsEnvironmentAndServicesStillWork)
{
	REQUIRE_DB();
	auto r = run_cli({"run", "--job", it::unique_job("env"), "--", "true"});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(tagged(r.err, "CRON_RUN").size(), 1u) << r.err;

	const std::string services = "/tmp/cronlock-it-services-" + std::to_string(getpid());
	std::ofstream(services) << "[nightly]\nhost=" << std::getenv("PGHOST") << "\nport="
							<< std::getenv("PGPORT") << "\ndbname=" << std::getenv("PGDATABASE")
							<< "\n";
	r = run_cli({"run", "--db", "service=nightly", "--job", it::unique_job("svc"), "--", "true"},
				{{"PGSERVICEFILE", services}, {"PGHOST", "/nonexistent"}, {"PGPORT", "1"}});
	EXPECT_EQ(r.status, 0) << r.err;
	EXPECT_EQ(tagged(r.err, "CRON_RUN").size(), 1u) << r.err;
	std::filesystem::remove(services);
}

// --json timestamps are ISO 8601 UTC whatever DateStyle and TimeZone the session has.
TEST(Connect, JsonTimestampsAreIsoUtc)
{
	REQUIRE_DB();
	const std::string job = it::unique_job("json-ts");
	const it::EnvList style{{"PGDATESTYLE", "SQL, DMY"}, {"PGTZ", "Europe/Paris"}};
	auto hold = it::Background({"run", "--job", job, "--", "sleep", "3"}, {});
	ASSERT_TRUE(it::wait_for([&] { return !tagged(hold.err(), "CRON_RUN").empty(); }, 10)) << hold.err();
	auto busy = run_cli({"run", "--job", job, "--instance", "other", "--", "true"});
	EXPECT_EQ(busy.status, 0) << busy.err;
	const std::regex iso("\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z\"");
	const std::regex any_ts("\"[^\"]*[0-9]{2}:[0-9]{2}:[0-9]{2}[^\"]*\"");
	for (const std::vector<std::string> &cmd :
		 {std::vector<std::string>{"status", "--json"}, {"runs", "--json", "--job", job},
		  {"duplicates", "--json"}}) {
		auto r = run_cli(cmd, style);
		SCOPED_TRACE(cmd[0]);
		ASSERT_EQ(r.status, 0) << r.err;
		int stamps = 0;
		for (std::sregex_iterator m(r.out.begin(), r.out.end(), any_ts), end; m != end; ++m, ++stamps)
			EXPECT_TRUE(std::regex_match(m->str(), iso)) << m->str();
		EXPECT_GT(stamps, 0) << r.out;
	}
	hold.wait();
}

// A statement past its deadline on a frozen server leaves a cancel thread blocked in
// PQcancel until the server wakes up: their number stays bounded.
TEST(Connect, CancelThreadsStayBoundedOnAFrozenServer)
{
	REQUIRE_DB();
	it::Sql sql;
	std::ifstream pidfile(sql.one("SHOW data_directory").value() + "/postmaster.pid");
	std::string first;
	std::getline(pidfile, first);
	const pid_t postmaster = std::stoi(first);

	auto prepared = cronlock::prepare_conninfo("", {}, ::getenv);
	ASSERT_TRUE(prepared.settings) << prepared.error;
	auto settings = std::make_shared<const cronlock::ConnectSettings>(*prepared.settings);
	std::vector<std::unique_ptr<cronlock::Connection>> conns;
	std::vector<pid_t> frozen{postmaster};
	for (int i = 0; i < 8; ++i) {
		conns.push_back(std::make_unique<cronlock::Connection>(settings));
		ASSERT_TRUE(conns.back()->connect());
		frozen.push_back(conns.back()->backend_pid());
	}
	const int before = cronlock::cancels_in_flight();
	for (pid_t p : frozen)
		kill(p, SIGSTOP);
	for (auto &c : conns) {
		auto r = c->exec("SELECT 1", {}, cronlock::SteadyClock::now() + 100ms);
		EXPECT_FALSE(r);
	}
	const int during = cronlock::cancels_in_flight();
	for (pid_t p : frozen)
		kill(p, SIGCONT);
	EXPECT_LE(during - before, 4);
	EXPECT_GE(during - before, 1);
	EXPECT_TRUE(it::wait_for([&] { return cronlock::cancels_in_flight() == before; }, 10));
}

// The server's notices and warnings become log lines (JSON here), not raw stderr.
TEST(Connect, NoticesGoThroughTheLogger)
{
	REQUIRE_DB();
	char path[] = "/tmp/cronlock-it-notice-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	cronlock::Config cfg = cronlock::Config::from_environment();
	cfg.logger = std::make_shared<cronlock::Logger>(cronlock::LogFormat::json, false, fd);
	cronlock::Client client(cfg);
	auto r = cronlock::with_session(client, [](cronlock::Session &s) {
		return s.query("DO $$BEGIN RAISE WARNING 'careful: %', 42; END$$", {});
	});
	ASSERT_TRUE(r) << r.error().message;
	close(fd);
	std::ifstream f(path);
	std::string line;
	std::getline(f, line);
	unlink(path);
	EXPECT_TRUE(line.starts_with("{\"tag\":\"CRON_NOTICE\"")) << line;
	EXPECT_NE(line.find("\"severity\":\"WARNING\""), std::string::npos) << line;
	EXPECT_NE(line.find("\"message\":\"careful: 42\""), std::string::npos) << line;
}
