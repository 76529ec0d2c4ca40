// child.hpp: COMMAND as a child process, under a keeper: cronlock starts a keeper
// process (a child subreaper, leader of COMMAND's process group) which starts COMMAND,
// so that every descendant of COMMAND stays in a tree the keeper can stop: when COMMAND
// exits, when the lease is lost, and when cronlock itself dies (kill -9).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "cronlock/duration.hpp"

namespace cronlock::cli {

struct Spawned {
	pid_t pid = -1;     // the keeper: leader of COMMAND's process group
	int exec_errno = 0; // non-zero: COMMAND could not be executed (children already reaped)
	int ctl = -1;       // to the keeper: 'T' stop the tree, 'K' kill it; EOF: cronlock is gone
	int result = -1;    // from the keeper: COMMAND's wait status and the descendants stopped
	bool gave_tty = false; // COMMAND's group got the terminal's foreground
};

// The caller must have blocked the signals it supervises. COMMAND gets `child_mask` as
// its signal mask (the one cronlock inherited) and the terminal's foreground when
// cronlock has it. `extra_env` replaces variables of the same name; `drop_env` names
// variables to leave out. After COMMAND exits, the keeper gives what is left of its
// tree SIGTERM, and SIGKILL `grace` later.
Spawned spawn_child(const std::vector<std::string> &argv,
					const std::vector<std::pair<std::string, std::string>> &extra_env,
					const sigset_t &child_mask, Millis grace);

// 126 (found but not executable) or 127 (not found), like a shell.
int exec_failure_status(int err);

struct ChildExit {
	int wait_status = 0;
	int forwarded_signal = 0; // last SIGTERM/INT/HUP/QUIT passed on to the group
	bool killed_for_lease = false;
	int stopped = 0;          // descendants left after COMMAND that the keeper stopped
	int tty_stop = 0;         // SIGTTIN/SIGTTOU/SIGTSTP stopped COMMAND: it was killed
	bool max_runtime = false; // --max-runtime passed before any lease loss: stopped for it
};

// Waits for the keeper of `child`. `term_fd` and `other_fd` are signalfds: what they
// deliver (except SIGCHLD) goes to COMMAND's process group; a terminating signal marks
// the run cancelled. When `lost` is requested: SIGTERM to the whole tree at once,
// SIGKILL `grace` later, on a CLOCK_BOOTTIME timer. The same when `max_runtime` passes
// first (whichever comes first decides what ChildExit says).
ChildExit supervise(const Spawned &child, int term_fd, int other_fd, std::stop_token lost,
					Millis grace, std::optional<Millis> max_runtime = {});

// The shell convention: the exit status, or 128+N after signal N.
int exit_status_of(int wait_status);

// Signals that end a run (passed on to COMMAND, run released as cancelled).
bool is_terminating(int sig);

} // namespace cronlock::cli
