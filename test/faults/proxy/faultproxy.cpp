// test/faults/proxy/faultproxy.cpp: a loopback-only TCP fault proxy for the
// cron_lock fault-injection suite.
//
//   faultproxy --listen 127.0.0.1:PORT --target 127.0.0.1:PGPORT --control PATH.sock
//   faultproxy --ctl PATH.sock COMMAND...        (send one command, print the answer)
//
// Forwards TCP byte for byte.  Commands on the unix control socket, one line
// each, answered "ok" (or "err ..."):
//   pass                  forward normally (leave blackhole/refuse modes)
//   blackhole             accept new connections, never forward or answer
//   refuse                accept new connections and reset them at once
//   reset                 RST every live connection (SO_LINGER 0, then close)
//   latency MS            delay every chunk, both ways, by MS milliseconds
//   connect-delay MIN [MAX]  hold each new connection's bytes, both ways, for a
//                         random MIN..MAX ms after accept (a cold start; 0: off)
//   freeze / thaw         stop / resume moving bytes on live connections
//   drop-reply-after PAT  one shot: when a client->server chunk containing PAT
//                         passes, forward it, then swallow the server's answer
//                         up to and including its ReadyForQuery ('Z') message
//                         and reset both sides: the client never learns whether
//                         its COMMIT happened (an in-doubt commit)
//   reset-on PAT          one shot: the connection whose client->server chunk
//                         contains PAT is reset before that chunk is forwarded
//                         (the request is lost)
//   freeze-after PAT      one shot: forward that chunk, then stop moving bytes on
//                         that connection until "thaw" or "reset"
//   disarm                forget any armed one-shot trigger
//   stats                 "ok accepted=N live=N dropped=N armed=0|1"
//   quit                  exit
//
// Single-threaded, poll()-based, libc and libstdc++ only.  Refuses any
// address outside 127.0.0.0/8.  Exits on "quit", on SIGTERM/SIGINT, and when
// its parent dies (PR_SET_PDEATHSIG plus a getppid() check every poll round).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr size_t kReadChunk = 65536;
constexpr size_t kHighWater = 1 << 20;	// stop reading a side whose peer lags this much
constexpr int64_t kDropGiveUpMs = 30000;	// close an in-doubt connection even without 'Z'

volatile sig_atomic_t g_stop = 0;

int64_t now_ms()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void die(const char *what)
{
	std::fprintf(stderr, "faultproxy: %s: %s\n", what, std::strerror(errno));
	std::exit(2);
}

bool parse_loopback(const std::string &s, sockaddr_in &out)
{
	auto colon = s.rfind(':');
	if (colon == std::string::npos)
		return false;
	std::string host = s.substr(0, colon);
	char *end = nullptr;
	long port = std::strtol(s.c_str() + colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return false;
	std::memset(&out, 0, sizeof out);
	out.sin_family = AF_INET;
	out.sin_port = htons(uint16_t(port));
	if (host == "localhost")
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host.c_str(), &out.sin_addr) != 1)
		return false;
	// Loopback only, never any other address.
	return (ntohl(out.sin_addr.s_addr) >> 24) == 127;
}

void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl");
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// Close so that the peer gets a RST rather than a FIN.
void close_rst(int fd)
{
	if (fd < 0)
		return;
	linger lg{1, 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

struct Chunk
{
	int64_t due;
	std::string data;
	size_t off = 0;
};

// One direction of a connection: bytes read from `from`, waiting for `to`.
struct Pipe
{
	std::deque<Chunk> q;
	size_t queued = 0;
	bool eof = false;		// `from` said FIN
	bool shut = false;		// we passed the FIN on
};

struct Conn
{
	int cfd = -1;			// client side
	int sfd = -1;			// server side
	bool connecting = false;
	bool blackholed = false;
	Pipe up;				// client -> server
	Pipe down;				// server -> client
	std::string match_tail; // last bytes of the client stream, for split patterns
	bool dropping = false;	// in-doubt: swallow the server's answer, then reset
	int64_t drop_since = 0;
	std::string drop_buf;	// server bytes since the match, parsed for 'Z'
	bool frozen = false;	// freeze-after fired on this connection
	bool dead = false;
	int64_t not_before = 0;	// connect-delay: nothing moves before this time
};

struct Proxy
{
	sockaddr_in listen_addr{};
	sockaddr_in target{};
	std::string control_path;
	int lfd = -1;
	int ctl_fd = -1;
	std::vector<int> ctl_clients;
	std::vector<std::string> ctl_bufs;
	std::vector<std::unique_ptr<Conn>> conns;

	enum Mode { PASS, BLACKHOLE, REFUSE } mode = PASS;
	int latency = 0;
	int connect_delay_min = 0, connect_delay_max = 0;
	bool frozen = false;
	std::string drop_pattern;	// empty: not armed
	enum Trigger { DROP_REPLY, RESET_ON, FREEZE_AFTER } trigger = DROP_REPLY;
	bool quit = false;
	pid_t parent = 0;

	uint64_t accepted = 0, dropped = 0;

	void setup();
	void run();
	void accept_new();
	void accept_ctl();
	bool handle_ctl(size_t i);
	std::string command(const std::string &line);
	void reset_all();
	void close_conn(Conn &c, bool rst);
	void read_side(Conn &c, bool client_side);
	void write_side(Conn &c, bool to_server);
	void check_drop_done(Conn &c);
};

void Proxy::setup()
{
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, reinterpret_cast<sockaddr *>(&listen_addr), sizeof listen_addr) < 0)
		die("bind listen");
	if (listen(lfd, 128) < 0)
		die("listen");
	set_nonblock(lfd);

	ctl_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (ctl_fd < 0)
		die("socket unix");
	sockaddr_un un{};
	un.sun_family = AF_UNIX;
	if (control_path.size() >= sizeof un.sun_path) {
		errno = ENAMETOOLONG;
		die("control path");
	}
	std::strcpy(un.sun_path, control_path.c_str());
	unlink(control_path.c_str());
	if (bind(ctl_fd, reinterpret_cast<sockaddr *>(&un), sizeof un) < 0)
		die("bind control");
	if (listen(ctl_fd, 16) < 0)
		die("listen control");
	set_nonblock(ctl_fd);
}

void Proxy::close_conn(Conn &c, bool rst)
{
	if (rst) {
		close_rst(c.cfd);
		close_rst(c.sfd);
	} else {
		if (c.cfd >= 0)
			close(c.cfd);
		if (c.sfd >= 0)
			close(c.sfd);
	}
	c.cfd = c.sfd = -1;
	c.dead = true;
}

void Proxy::reset_all()
{
	for (auto &c : conns)
		if (!c->dead)
			close_conn(*c, true);
}

void Proxy::accept_new()
{
	for (int n = 0; n < 64; n++) {
		int fd = accept(lfd, nullptr, nullptr);
		if (fd < 0)
			return;
		accepted++;
		set_nonblock(fd);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (mode == REFUSE) {
			close_rst(fd);
			continue;
		}
		auto c = std::make_unique<Conn>();
		c->cfd = fd;
		if (connect_delay_max > 0)
			c->not_before = now_ms() + connect_delay_min +
				std::rand() % (connect_delay_max - connect_delay_min + 1);
		if (mode == BLACKHOLE) {
			c->blackholed = true;
			conns.push_back(std::move(c));
			continue;
		}
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0) {
			close_rst(fd);
			continue;
		}
		set_nonblock(s);
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		int r = connect(s, reinterpret_cast<sockaddr *>(&target), sizeof target);
		if (r < 0 && errno != EINPROGRESS) {
			close(s);
			close_rst(fd);	// like a refused port: the client sees a reset
			continue;
		}
		c->sfd = s;
		c->connecting = r < 0;
		conns.push_back(std::move(c));
	}
}

void Proxy::accept_ctl()
{
	for (;;) {
		int fd = accept(ctl_fd, nullptr, nullptr);
		if (fd < 0)
			return;
		set_nonblock(fd);
		ctl_clients.push_back(fd);
		ctl_bufs.emplace_back();
	}
}

std::string Proxy::command(const std::string &line)
{
	std::string cmd = line, arg;
	auto sp = line.find(' ');
	if (sp != std::string::npos) {
		cmd = line.substr(0, sp);
		arg = line.substr(sp + 1);
	}
	if (cmd == "pass") {
		mode = PASS;
		// Connections held by a black hole stay held; clients give up on their own.
	} else if (cmd == "blackhole") {
		mode = BLACKHOLE;
	} else if (cmd == "refuse") {
		mode = REFUSE;
	} else if (cmd == "reset") {
		reset_all();
	} else if (cmd == "latency") {
		char *end = nullptr;
		long ms = std::strtol(arg.c_str(), &end, 10);
		if (arg.empty() || *end != '\0' || ms < 0 || ms > 600000)
			return "err latency wants 0..600000 ms";
		latency = int(ms);
	} else if (cmd == "connect-delay") {
		char *end = nullptr;
		long lo = std::strtol(arg.c_str(), &end, 10), hi = lo;
		if (!arg.empty() && *end == ' ')
			hi = std::strtol(end + 1, &end, 10);
		if (arg.empty() || *end != '\0' || lo < 0 || hi < lo || hi > 600000)
			return "err connect-delay wants MIN [MAX], 0 <= MIN <= MAX <= 600000 ms";
		connect_delay_min = int(lo);
		connect_delay_max = int(hi);
	} else if (cmd == "freeze") {
		frozen = true;
	} else if (cmd == "thaw") {
		frozen = false;
		for (auto &c : conns)
			c->frozen = false;
	} else if (cmd == "drop-reply-after" || cmd == "reset-on" || cmd == "freeze-after") {
		if (arg.empty())
			return "err " + cmd + " wants a pattern";
		drop_pattern = arg;
		trigger = cmd == "reset-on" ? RESET_ON : cmd == "freeze-after" ? FREEZE_AFTER : DROP_REPLY;
	} else if (cmd == "disarm") {
		drop_pattern.clear();
	} else if (cmd == "stats") {
		size_t live = 0;
		for (auto &c : conns)
			live += !c->dead;
		char buf[160];
		std::snprintf(buf, sizeof buf, "ok accepted=%llu live=%zu dropped=%llu armed=%d",
					  (unsigned long long) accepted, live, (unsigned long long) dropped,
					  drop_pattern.empty() ? 0 : 1);
		return buf;
	} else if (cmd == "quit") {
		quit = true;
	} else {
		return "err unknown command";
	}
	return "ok";
}

// Returns false when the control client is finished.
bool Proxy::handle_ctl(size_t i)
{
	char buf[1024];
	ssize_t n = read(ctl_clients[i], buf, sizeof buf);
	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	ctl_bufs[i].append(buf, size_t(n));
	if (ctl_bufs[i].size() > 8192)
		return false;
	size_t nl;
	while ((nl = ctl_bufs[i].find('\n')) != std::string::npos) {
		std::string line = ctl_bufs[i].substr(0, nl);
		ctl_bufs[i].erase(0, nl + 1);
		while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
			line.pop_back();
		std::string ans = command(line) + "\n";
		// Answers are tiny; the control socket buffer always has room.
		(void) !write(ctl_clients[i], ans.data(), ans.size());
	}
	return true;
}

// In-doubt mode: the server's answer is parsed message by message (type byte,
// int32 length); once ReadyForQuery has come, both sides are reset.
void Proxy::check_drop_done(Conn &c)
{
	size_t pos = 0;
	while (c.drop_buf.size() - pos >= 5) {
		unsigned char type = static_cast<unsigned char>(c.drop_buf[pos]);
		uint32_t len;
		std::memcpy(&len, c.drop_buf.data() + pos + 1, 4);
		len = ntohl(len);
		if (len < 4 || c.drop_buf.size() - pos < 1 + size_t(len))
			break;
		pos += 1 + len;
		if (type == 'Z') {
			dropped++;
			close_conn(c, true);
			return;
		}
	}
	c.drop_buf.erase(0, pos);
	if (now_ms() - c.drop_since > kDropGiveUpMs)
		close_conn(c, true);
}

void Proxy::read_side(Conn &c, bool client_side)
{
	int fd = client_side ? c.cfd : c.sfd;
	Pipe &p = client_side ? c.up : c.down;
	char buf[kReadChunk];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		close_conn(c, true);	// a reset on one side is passed on as a reset
		return;
	}
	if (n == 0) {
		if (c.blackholed || c.dropping) {
			close_conn(c, false);
			return;
		}
		p.eof = true;
		return;
	}
	if (c.blackholed)
		return;	// swallowed
	if (!client_side && c.dropping) {
		c.drop_buf.append(buf, size_t(n));
		check_drop_done(c);
		return;
	}
	std::string data(buf, size_t(n));
	bool matched = false;
	if (client_side && !drop_pattern.empty()) {
		std::string hay = c.match_tail + data;
		if (hay.find(drop_pattern) != std::string::npos)
			matched = true;
		size_t keep = drop_pattern.size() > 1 ? drop_pattern.size() - 1 : 0;
		c.match_tail = hay.size() > keep ? hay.substr(hay.size() - keep) : hay;
	}
	if (matched && trigger == RESET_ON) {
		drop_pattern.clear();	// one shot
		dropped++;
		close_conn(c, true);
		return;
	}
	p.queued += data.size();
	p.q.push_back(Chunk{std::max(now_ms() + latency, c.not_before), std::move(data)});
	if (matched && trigger == FREEZE_AFTER) {
		drop_pattern.clear();
		dropped++;
		c.frozen = true;	// the chunk itself still goes out (see run())
		return;
	}
	if (matched) {
		drop_pattern.clear();	// one shot
		c.dropping = true;
		c.drop_since = now_ms();
		// Whatever the server already had queued for the client goes too.
		c.down.q.clear();
		c.down.queued = 0;
	}
}

void Proxy::write_side(Conn &c, bool to_server)
{
	int fd = to_server ? c.sfd : c.cfd;
	Pipe &p = to_server ? c.up : c.down;
	int64_t t = now_ms();
	while (!p.q.empty() && p.q.front().due <= t) {
		Chunk &ch = p.q.front();
		ssize_t n = write(fd, ch.data.data() + ch.off, ch.data.size() - ch.off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			close_conn(c, true);
			return;
		}
		ch.off += size_t(n);
		p.queued -= size_t(n);
		if (ch.off < ch.data.size())
			return;
		p.q.pop_front();
	}
	if (p.q.empty() && p.eof && !p.shut) {
		shutdown(fd, SHUT_WR);
		p.shut = true;
	}
}

void Proxy::run()
{
	while (!quit && !g_stop) {
		if (parent > 1 && getppid() != parent)
			break;

		std::vector<pollfd> fds;
		std::vector<std::pair<Conn *, int>> who;	// 0 client, 1 server
		fds.push_back({lfd, POLLIN, 0});
		fds.push_back({ctl_fd, POLLIN, 0});
		for (int cfd : ctl_clients)
			fds.push_back({cfd, POLLIN, 0});
		size_t conn_base = fds.size();

		int64_t t = now_ms();
		int64_t next_due = t + 200;
		for (auto &cp : conns) {
			Conn &c = *cp;
			if (c.dead)
				continue;
			short cev = 0, sev = 0;
			if (c.blackholed) {
				cev = POLLIN;
			} else if (c.connecting) {
				sev = POLLOUT;
			} else if (c.frozen && !frozen) {
				// freeze-after: the triggering request still reaches the server,
				// nothing else moves.
				if (!c.up.q.empty() && c.up.q.front().due <= t)
					sev |= POLLOUT;
				else if (!c.up.q.empty())
					next_due = std::min(next_due, c.up.q.front().due);
			} else if (!frozen) {
				if (!c.up.eof && c.up.queued < kHighWater)
					cev |= POLLIN;
				if (!c.down.eof && c.down.queued < kHighWater)
					sev |= POLLIN;
				if (!c.up.q.empty()) {
					if (c.up.q.front().due <= t)
						sev |= POLLOUT;
					else
						next_due = std::min(next_due, c.up.q.front().due);
				}
				if (!c.down.q.empty()) {
					if (c.down.q.front().due <= t)
						cev |= POLLOUT;
					else
						next_due = std::min(next_due, c.down.q.front().due);
				}
				if (c.up.eof && c.up.q.empty() && !c.up.shut)
					sev |= POLLOUT;
				if (c.down.eof && c.down.q.empty() && !c.down.shut)
					cev |= POLLOUT;
			}
			if (c.dropping)
				next_due = std::min(next_due, c.drop_since + kDropGiveUpMs);
			fds.push_back({c.cfd, cev, 0});
			who.push_back({&c, 0});
			if (c.sfd >= 0) {
				fds.push_back({c.sfd, sev, 0});
				who.push_back({&c, 1});
			}
		}

		int timeout = int(std::max<int64_t>(0, std::min<int64_t>(next_due - t, 200)));
		int r = poll(fds.data(), fds.size(), timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}

		if (fds[0].revents & POLLIN)
			accept_new();
		if (fds[1].revents & POLLIN)
			accept_ctl();
		for (size_t i = ctl_clients.size(); i-- > 0;) {
			if (fds[2 + i].revents && !handle_ctl(i)) {
				close(ctl_clients[i]);
				ctl_clients.erase(ctl_clients.begin() + long(i));
				ctl_bufs.erase(ctl_bufs.begin() + long(i));
			}
		}
		// "reset" may have killed connections polled above: skip those.
		for (size_t k = 0; k < who.size(); k++) {
			Conn &c = *who[k].first;
			short rev = fds[conn_base + k].revents;
			if (c.dead || rev == 0)
				continue;
			bool server = who[k].second == 1;
			if (server && c.connecting) {
				int err = 0;
				socklen_t len = sizeof err;
				getsockopt(c.sfd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err != 0 || (rev & (POLLERR | POLLHUP))) {
					close_conn(c, true);
					continue;
				}
				c.connecting = false;
				continue;
			}
			if (rev & (POLLIN | POLLHUP | POLLERR))
				read_side(c, !server);
			if (!c.dead && (rev & POLLOUT))
				write_side(c, server);
			if (!c.dead && c.up.shut && c.down.shut)
				close_conn(c, false);
		}
		// Connections whose data came due without a POLLOUT round still move.
		for (auto &cp : conns)
			if (!cp->dead && cp->dropping)
				check_drop_done(*cp);
		for (size_t i = conns.size(); i-- > 0;)
			if (conns[i]->dead)
				conns.erase(conns.begin() + long(i));
	}
	reset_all();
	unlink(control_path.c_str());
}

void on_signal(int)
{
	g_stop = 1;
}

int control_client(const char *path, int argc, char **argv)
{
	std::string line;
	for (int i = 0; i < argc; i++) {
		if (i)
			line += ' ';
		line += argv[i];
	}
	line += '\n';
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	sockaddr_un un{};
	un.sun_family = AF_UNIX;
	std::snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
	if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&un), sizeof un) < 0) {
		std::fprintf(stderr, "faultproxy: cannot reach control socket %s: %s\n", path,
					 std::strerror(errno));
		return 2;
	}
	timeval tv{5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (write(fd, line.data(), line.size()) != ssize_t(line.size()))
		return 2;
	std::string ans;
	char buf[256];
	while (ans.find('\n') == std::string::npos) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		ans.append(buf, size_t(n));
	}
	close(fd);
	std::fputs(ans.c_str(), stdout);
	return ans.rfind("ok", 0) == 0 ? 0 : 1;
}

void usage()
{
	std::fputs("usage: faultproxy --listen 127.0.0.1:PORT --target 127.0.0.1:PORT --control PATH\n"
			   "       faultproxy --ctl PATH COMMAND [ARG]\n",
			   stderr);
	std::exit(64);
}

}	// namespace

int main(int argc, char **argv)
{
	Proxy p;
	bool have_listen = false, have_target = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--ctl" && i + 2 < argc + 1 && i + 1 < argc)
			return control_client(argv[i + 1], argc - i - 2, argv + i + 2);
		if (i + 1 >= argc)
			usage();
		if (a == "--listen")
			have_listen = parse_loopback(argv[++i], p.listen_addr);
		else if (a == "--target")
			have_target = parse_loopback(argv[++i], p.target);
		else if (a == "--control")
			p.control_path = argv[++i];
		else
			usage();
	}
	if (!have_listen || !have_target || p.control_path.empty()) {
		std::fputs("faultproxy: --listen and --target must be 127.x.x.x:PORT, and --control is required\n",
				   stderr);
		usage();
	}

	p.parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != p.parent)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa{};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, nullptr);
	sigaction(SIGINT, &sa, nullptr);
	sigaction(SIGHUP, &sa, nullptr);

	p.setup();
	std::printf("faultproxy: listening on %s:%d\n", inet_ntoa(p.listen_addr.sin_addr),
				ntohs(p.listen_addr.sin_port));
	std::fflush(stdout);
	p.run();
	return 0;
}
