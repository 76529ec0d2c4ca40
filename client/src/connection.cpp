// connection.cpp: libpq under deadlines.
//
// The socket is non-blocking and every wait is a poll() bounded by a steady_clock
// deadline. Host names are resolved here (resolve.cpp), so libpq gets one numeric
// address at a time and never blocks in the resolver. A query past its deadline is
// cancelled from a detached thread (PQcancel itself blocks while it connects) and the
// connection is dropped at once.
#include "cronlock/connection.hpp"

#include <libpq-fe.h>
#include <netdb.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <thread>

#include "cronlock/log.hpp"
#include "resolve.hpp"

namespace cronlock {

void ConnDeleter::operator()(PGconn *c) const { PQfinish(c); }
void ResultDeleter::operator()(PGresult *r) const { PQclear(r); }

int Rows::rows() const { return PQntuples(r_.get()); }
int Rows::columns() const { return PQnfields(r_.get()); }
bool Rows::is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
std::string_view Rows::get(int row, int col) const
{
	return {PQgetvalue(r_.get(), row, col),
			static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}
std::optional<std::string> Rows::opt(int row, int col) const
{
	if (is_null(row, col))
		return std::nullopt;
	return std::string(get(row, col));
}
std::string_view Rows::name(int col) const { return PQfname(r_.get(), col); }
unsigned Rows::type(int col) const { return PQftype(r_.get(), col); }

namespace {

// 1: ready, 0: deadline passed, -1: poll failed (errno set), -2: interrupt_fd readable.
// *revents gets what poll saw on fd.
int wait_fd(int fd, short events, Deadline deadline, int interrupt_fd, short *revents = nullptr)
{
	for (;;) {
		auto now = SteadyClock::now();
		if (now >= deadline)
			return 0;
		auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
		pollfd p[2] = {{fd, events, 0}, {interrupt_fd, POLLIN, 0}};
		int r = poll(p, 2, left > INT_MAX ? INT_MAX : static_cast<int>(left));
		if (r > 0 && (p[1].revents & POLLIN))
			return -2;
		if (r > 0) {
			if (revents)
				*revents = p[0].revents;
			return 1;
		}
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

// Notices and warnings of the server (and libpq's own) become log lines: libpq's
// default writes them raw to stderr, in the middle of a JSON log.
void receive_notice(void *arg, const PGresult *r)
{
	auto *log = static_cast<Logger *>(arg);
	if (!log)
		return;
	const char *severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	std::string message = tidy_message(primary ? primary : PQresultErrorMessage(r));
	bool warning = severity && std::string_view(severity) == "WARNING";
	log->log(warning ? Level::warning : Level::info, "CRON_NOTICE",
			 {severity ? Field("severity", severity) : Field("severity", std::monostate{}),
			  code ? Field("sqlstate", code) : Field("sqlstate", std::monostate{}),
			  {"message", message}});
}

// What a failure at this status means (PQstatus before the PQconnectPoll that failed).
ConnectPhase phase_of(ConnStatusType st)
{
	switch (st) {
	case CONNECTION_SSL_STARTUP:
	case CONNECTION_GSS_STARTUP:
		return ConnectPhase::encryption;
	case CONNECTION_AWAITING_RESPONSE:
	case CONNECTION_SETENV:
		return ConnectPhase::startup;
	case CONNECTION_AUTH_OK: // target_session_attrs is checked as ReadyForQuery arrives
	case CONNECTION_CHECK_WRITABLE:
	case CONNECTION_CONSUME:
	case CONNECTION_CHECK_TARGET:
	case CONNECTION_CHECK_STANDBY:
		return ConnectPhase::session;
	default:
		return ConnectPhase::tcp;
	}
}

bool is_code_char(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); }

constexpr int max_cancels = 4;
std::atomic<int> cancels{0};

} // namespace

int cancels_in_flight() { return cancels.load(); }

std::string startup_sqlstate(std::string_view m)
{
	std::string found;
	std::size_t pos = 0;
	while (pos < m.size()) {
		std::size_t nl = m.find('\n', pos);
		std::string_view line = m.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
		pos = nl == std::string_view::npos ? m.size() : nl + 1;
		for (std::size_t i = 0; i + 9 <= line.size(); ++i) {
			if (line.substr(i, 3) != ":  ")
				continue;
			std::string_view code = line.substr(i + 3, 5);
			bool ok = line[i + 8] == ':';
			for (char c : code)
				ok = ok && is_code_char(c);
			if (ok) {
				found = code;
				break; // the first on the line: later ones are inside the message
			}
		}
	}
	return found;
}

std::string tidy_message(std::string_view m)
{
	std::string out;
	std::size_t pos = 0;
	while (pos < m.size()) {
		std::size_t nl = m.find('\n', pos);
		std::string_view line = m.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
		pos = nl == std::string_view::npos ? m.size() : nl + 1;
		while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
			line.remove_prefix(1);
		while (!line.empty() && (line.back() == ' ' || line.back() == '\r'))
			line.remove_suffix(1);
		if (line.empty() || line.starts_with("LOCATION:"))
			continue;
		if (!out.empty())
			out += "; ";
		out += line;
	}
	return scrub(std::move(out));
}

Connection::Connection(std::shared_ptr<const ConnectSettings> settings)
	: settings_(std::move(settings))
{
}

Connection::~Connection() = default;

void Connection::drop() { conn_.reset(); }

int Connection::backend_pid() const { return conn_ ? PQbackendPID(conn_.get()) : 0; }

Error Connection::fail(const Failure &f, std::string message) const
{
	auto c = classify(f);
	return Error{c.cls, c.kind, std::string(f.sqlstate), tidy_message(message), f.deadline_expired};
}

Result<Ok> Connection::connect(std::optional<Deadline> limit)
{
	if (conn_)
		return Ok{};
	const ConnectSettings &s = *settings_;
	auto budget = [&] {
		Deadline d = SteadyClock::now() + s.connect_timeout;
		return limit ? std::min(d, *limit) : d;
	};
	if (s.hosts.empty())
		return attempt(nullptr, "", "", budget());

	std::vector<std::string> passes{s.target_session_attrs};
	if (s.target_session_attrs == "prefer-standby")
		passes = {"standby", "any"};
	std::optional<Error> permanent, last;
	auto record = [&](Error e) {
		if (e.kind == ErrorKind::permanent && !permanent)
			permanent = e;
		last = std::move(e);
	};
	for (const auto &attrs : passes) {
		for (const HostSpec &h : s.hosts) {
			if (limit && SteadyClock::now() >= *limit)
				break;
			std::vector<std::string> addresses{h.hostaddr};
			if (h.needs_lookup()) {
				Lookup l = resolve_host(h.host, budget());
				if (l.timed_out || l.error) {
					std::string msg = l.timed_out ? "no answer from the resolver" : gai_strerror(l.error);
					record(fail({.stage = Stage::connect,
								 .deadline_expired = l.timed_out,
								 .connection_lost = true,
								 .resolver_error = l.error},
								"could not translate host name \"" + h.host + "\" to address: " + msg));
					continue;
				}
				addresses = std::move(l.addresses);
			}
			for (const auto &addr : addresses) {
				auto r = attempt(&h, addr, attrs, budget());
				if (r)
					return r;
				record(r.error());
				if (limit && SteadyClock::now() >= *limit)
					break;
			}
		}
	}
	if (permanent)
		return *permanent;
	if (last)
		return *last;
	return fail({.stage = Stage::connect, .deadline_expired = true, .connection_lost = true},
				"no time left to connect (" + s.display + ")");
}

Result<Ok> Connection::attempt(const HostSpec *host, const std::string &hostaddr,
							   const std::string &session_attrs, Deadline deadline)
{
	const ConnectSettings &s = *settings_;
	std::vector<const char *> keys, values;
	for (const auto &[k, v] : s.params) {
		keys.push_back(k.c_str());
		values.push_back(v.c_str());
	}
	auto set = [&](const char *k, const std::string &v) {
		if (!v.empty()) {
			keys.push_back(k);
			values.push_back(v.c_str());
		}
	};
	if (host) {
		set("host", host->host); // kept beside hostaddr: TLS checks the certificate against it
		set("hostaddr", hostaddr);
		set("port", host->port);
		set("target_session_attrs", session_attrs);
	}
	keys.push_back(nullptr);
	values.push_back(nullptr);

	ConnPtr c(PQconnectStartParams(keys.data(), values.data(), 0));
	if (!c)
		return fail({.stage = Stage::connect}, "out of memory");
	// Verbose messages carry the SQLSTATE of a refused startup (see startup_sqlstate).
	PQsetErrorVerbosity(c.get(), PQERRORS_VERBOSE);
	PQsetNoticeReceiver(c.get(), receive_notice, s.notices.get());

	std::string where = host ? (host->host.empty() ? "the default socket" : host->host) +
								   (hostaddr.empty() || hostaddr == host->host ? "" : " (" + hostaddr + ")") +
								   (host->port.empty() ? "" : " port " + host->port)
							 : s.display;
	ConnectPhase phase = ConnectPhase::tcp;
	bool hung_up = false;
	PostgresPollingStatusType st =
		PQstatus(c.get()) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			std::string msg = PQerrorMessage(c.get());
			std::string code = startup_sqlstate(msg);
			return fail({.stage = Stage::connect,
						 .connection_lost = true,
						 .sqlstate = code,
						 .password_missing = PQconnectionNeedsPassword(c.get()) != 0,
						 .phase = phase,
						 .peer_closed = hung_up,
						 .encryption_required = s.encryption_required,
						 .session_checked = !session_attrs.empty() && session_attrs != "any"},
						msg);
		}
		int fd = PQsocket(c.get());
		if (fd >= 0) {
			short revents = 0;
			short events = (st == PGRES_POLLING_READING ? POLLIN : POLLOUT) | POLLRDHUP;
			int r = wait_fd(fd, events, deadline, interrupt_fd_, &revents);
			if (r == -2)
				return fail({.stage = Stage::connect, .connection_lost = true},
							"interrupted while connecting");
			if (r == 0)
				return fail({.stage = Stage::connect, .deadline_expired = true,
							 .connection_lost = true},
							"timeout expired while connecting to " + where);
			hung_up = (revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0;
		}
		phase = phase_of(PQstatus(c.get()));
		st = PQconnectPoll(c.get());
	}
	PQsetErrorVerbosity(c.get(), PQERRORS_DEFAULT);
	if (PQsetnonblocking(c.get(), 1) != 0)
		return fail({.stage = Stage::connect, .connection_lost = true}, PQerrorMessage(c.get()));
	conn_ = std::move(c);
	return Ok{};
}

void Connection::cancel_in_background()
{
	// PQcancel blocks without a timeout on a server that accepts and never answers:
	// keep a few such threads, then rely on the dropped connection alone.
	if (cancels.fetch_add(1) >= max_cancels) {
		cancels.fetch_sub(1);
		return;
	}
	PGcancel *cancel = PQgetCancel(conn_.get());
	if (!cancel) {
		cancels.fetch_sub(1);
		return;
	}
	try {
		std::thread([cancel] {
			char buf[256];
			PQcancel(cancel, buf, sizeof buf);
			PQfreeCancel(cancel);
			cancels.fetch_sub(1);
		}).detach();
	} catch (const std::system_error &) {
		PQfreeCancel(cancel); // no thread: the dropped connection has to do
		cancels.fetch_sub(1);
	}
}

Result<Rows> Connection::exec(std::string_view sql, const std::vector<Param> &params,
							  Deadline deadline, bool writes)
{
	if (!conn_)
		return fail({.connection_lost = true}, "not connected");
	PGconn *c = conn_.get();
	auto lost = [&](bool sent) {
		std::string msg = PQerrorMessage(c);
		drop();
		return fail({.connection_lost = true, .outcome_unknown = writes && sent}, msg);
	};
	auto timed_out = [&] {
		cancel_in_background();
		drop();
		return fail({.deadline_expired = true, .connection_lost = true, .outcome_unknown = writes},
					"no answer from the server before the deadline; cancelled");
	};

	std::string text(sql);
	std::vector<const char *> values;
	for (const auto &p : params)
		values.push_back(p ? p->c_str() : nullptr);
	if (!PQsendQueryParams(c, text.c_str(), static_cast<int>(values.size()), nullptr,
						   values.data(), nullptr, nullptr, 0))
		return lost(false);

	for (;;) {
		int f = PQflush(c);
		if (f == 0)
			break;
		if (f < 0)
			return lost(true);
		int r = wait_fd(PQsocket(c), POLLOUT | POLLIN, deadline, interrupt_fd_);
		if (r == 0 || r == -2)
			return timed_out();
		if (r < 0 || !PQconsumeInput(c))
			return lost(true);
	}

	ResultPtr good, bad;
	for (;;) {
		if (!PQconsumeInput(c))
			return lost(true);
		bool done = false;
		while (!PQisBusy(c)) {
			PGresult *r = PQgetResult(c);
			if (!r) {
				done = true; // ReadyForQuery: the statement's transaction is over
				break;
			}
			ResultPtr owned(r);
			if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
				if (!bad)
					bad = std::move(owned);
			} else if (!good) {
				good = std::move(owned);
			}
		}
		if (done)
			break;
		int r = wait_fd(PQsocket(c), POLLIN, deadline, interrupt_fd_);
		if (r == 0 || r == -2)
			return timed_out();
		if (r < 0)
			return lost(true);
	}

	bool broken = PQstatus(c) == CONNECTION_BAD;
	if (bad) {
		const char *code = PQresultErrorField(bad.get(), PG_DIAG_SQLSTATE);
		const char *primary = PQresultErrorField(bad.get(), PG_DIAG_MESSAGE_PRIMARY);
		std::string msg = primary ? primary : PQresultErrorMessage(bad.get());
		// An ERROR on a live connection rolled the statement back; a FATAL or a drop may
		// have come after the commit.
		Error e = fail({.connection_lost = broken,
						.outcome_unknown = writes && broken,
						.sqlstate = code ? code : ""},
					   msg);
		// A standby stays a standby: reconnect, so libpq can pick a writable host.
		if (broken || e.cls == ErrorClass::read_only)
			drop();
		return e;
	}
	if (broken)
		return lost(true);
	if (!good)
		return fail({}, "the server sent no result");
	return Rows(std::move(good));
}

} // namespace cronlock
