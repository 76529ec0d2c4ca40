// child.hpp: COMMAND as a child process: started in its own process group with a
// parent-death signal, then supervised (signals forwarded, SIGTERM/SIGKILL on lease loss).
#pragma once

#include <sys/types.h>

#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "cronlock/duration.hpp"

namespace cronlock::cli {

struct Spawned {
	pid_t pid = -1;
	int exec_errno = 0; // non-zero: COMMAND could not be executed (child already reaped)
};

// The caller must have blocked the signals it supervises (the child unblocks them).
// `extra_env` replaces variables of the same name.
Spawned spawn_child(const std::vector<std::string> &argv,
					const std::vector<std::pair<std::string, std::string>> &extra_env);

// 126 (found but not executable) or 127 (not found), like a shell.
int exec_failure_status(int err);

struct ChildExit {
	int wait_status = 0;
	int forwarded_signal = 0; // last SIGTERM/INT/HUP/QUIT passed on to the group
	bool killed_for_lease = false;
};

// Waits for `pid` (the leader of its group). `sigfd` is a signalfd for SIGCHLD and the
// forwarded signals. When `lost` is requested: SIGTERM to the group, SIGKILL `grace`
// later, and SIGKILL to whatever is left of the group once the leader exits.
// `pending_signal`, when non-zero, is forwarded at once.
ChildExit supervise(pid_t pid, int sigfd, std::stop_token lost, Millis grace, int pending_signal);

// The shell convention: the exit status, or 128+N after signal N.
int exit_status_of(int wait_status);

} // namespace cronlock::cli
