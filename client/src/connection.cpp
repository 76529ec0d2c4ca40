// connection.cpp: libpq under deadlines.
//
// The socket is non-blocking and every wait is a poll() bounded by a steady_clock
// deadline. A query past its deadline is cancelled from a detached thread (PQcancel
// itself blocks while it connects) and the connection is dropped at once.
#include "cronlock/connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <climits>
#include <thread>

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
int wait_fd(int fd, short events, Deadline deadline, int interrupt_fd)
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
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

// Notices (e.g. from our own functions) must not reach the user's stderr unformatted.
void ignore_notice(void *, const char *) {}

bool is_code_char(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); }

} // namespace

std::string startup_sqlstate(std::string_view m)
{
	std::string found;
	for (std::size_t i = 0; i + 9 <= m.size(); ++i) {
		if (m.substr(i, 3) != ":  ")
			continue;
		std::string_view code = m.substr(i + 3, 5);
		bool ok = m[i + 8] == ':';
		for (char c : code)
			ok = ok && is_code_char(c);
		if (ok)
			found = code;
	}
	return found;
}

std::string tidy_message(std::string_view m, const std::vector<std::string> &secrets)
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
	return scrub(std::move(out), secrets);
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
	return Error{c.cls, c.kind, std::string(f.sqlstate), tidy_message(message, settings_->secrets),
				 f.deadline_expired};
}

Result<Ok> Connection::connect(Deadline deadline)
{
	if (conn_)
		return Ok{};
	std::vector<const char *> keys, values;
	for (const auto &[k, v] : settings_->params) {
		keys.push_back(k.c_str());
		values.push_back(v.c_str());
	}
	keys.push_back(nullptr);
	values.push_back(nullptr);

	ConnPtr c(PQconnectStartParams(keys.data(), values.data(), 0));
	if (!c)
		return fail({.stage = Stage::connect}, "out of memory");
	// Verbose messages carry the SQLSTATE of a refused startup (see startup_sqlstate).
	PQsetErrorVerbosity(c.get(), PQERRORS_VERBOSE);
	PQsetNoticeProcessor(c.get(), ignore_notice, nullptr);

	PostgresPollingStatusType st =
		PQstatus(c.get()) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			int err = errno;
			std::string msg = PQerrorMessage(c.get());
			std::string code = startup_sqlstate(msg);
			return fail({.stage = Stage::connect,
						 .connection_lost = true,
						 .sqlstate = code,
						 .sys_errno = code.empty() ? err : 0,
						 .password_missing = PQconnectionNeedsPassword(c.get()) != 0},
						msg);
		}
		int fd = PQsocket(c.get());
		if (fd >= 0) {
			int r = wait_fd(fd, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline,
							interrupt_fd_);
			if (r == -2)
				return fail({.stage = Stage::connect, .connection_lost = true},
							"interrupted while connecting");
			if (r == 0)
				return fail({.stage = Stage::connect, .deadline_expired = true,
							 .connection_lost = true},
							"timeout expired while connecting (" + settings_->display + ")");
		}
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
	PGcancel *cancel = PQgetCancel(conn_.get());
	if (!cancel)
		return;
	try {
		std::thread([cancel] {
			char buf[256];
			PQcancel(cancel, buf, sizeof buf);
			PQfreeCancel(cancel);
		}).detach();
	} catch (const std::system_error &) {
		PQfreeCancel(cancel); // no thread: the dropped connection has to do
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
