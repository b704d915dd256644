#pragma once

// Runs a child process from an argv list, never through a shell, and collects its output.
// This is the runner behind `exec` tools: the runtime renders the tool's templates and hands the
// result to RunProcess().

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/status.hpp"

namespace baton::tools {

struct ProcessSpec {
  // argv[0] is resolved through PATH (the child's PATH, else /usr/local/bin:/usr/bin:/bin) when it
  // has no '/'; a relative path with a '/' is relative to `cwd`. Every element reaches the child
  // byte for byte; no element may contain a NUL byte.
  std::vector<std::string> argv;
  std::string cwd;  // "" = inherit the parent's working directory
  // Added to the base environment; a name already present is replaced. Names must be non-empty
  // and contain neither '=' nor NUL.
  std::vector<std::pair<std::string, std::string>> env;
  // false: the base environment is the allow-list PATH HOME LANG LC_ALL TZ TMPDIR USER, copied
  // from the parent where set. true: the parent's whole environment.
  bool inherit_env = false;
  std::string stdin_data;  // written to the child's stdin, which is then closed
  // 0 = none. On expiry: SIGTERM to the process group, SIGKILL after kill_grace; the result then
  // has timed_out set (it is still a value, not an error).
  Millis timeout{0};
  Millis kill_grace{2000};
  // Per stream. Output beyond it is discarded (the stream is still drained, so the child never
  // blocks on a full pipe) and the stream's *_truncated flag is set.
  size_t max_output_bytes = 4 << 20;
};

struct ProcessResult {
  int exit_code = -1;   // the exit status when the process exited normally, else -1
  int term_signal = 0;  // the signal that terminated it, else 0
  std::string out, err;
  bool out_truncated = false, err_truncated = false, timed_out = false;
  int64_t duration_ms = 0;  // from spawn to reaped, steady clock
};

// Runs the process described by `spec` on the awaiting coroutine's executor (safe with an
// io_context run by several threads: the child's handlers are serialized on a strand).
//
// The child runs in a new process group whose leader it is, with stdin/stdout/stderr on pipes and
// no other inherited descriptor, signal dispositions reset to default and an empty signal mask.
// When the leader exits, whatever it left running in its group is killed with SIGKILL; output
// pipes still held open by a process that left the group are closed kill_grace later. The child
// is always reaped before the result is returned.
//
// Cancellation: a terminal or partial cancellation reaching the awaiting coroutine's cancellation
// slot (the coroutine's filter decides which types arrive; the default lets terminal through)
// kills the process group like a timeout and, once the child is reaped, returns kCancelled.
//
// Errors (all with type "tool_error"): kInvalidArgument for a malformed spec, kNotFound when the
// executable does not exist, kFailedPrecondition when it is not executable or `cwd` is not a
// usable directory, kResourceExhausted when pipes or processes cannot be created, kCancelled as
// above. A non-zero exit status or a death by signal is NOT an error; the caller decides.
boost::asio::awaitable<Result<ProcessResult>> RunProcess(ProcessSpec spec);

// Test hook: when true, process exit is observed by polling waitid() on a timer instead of
// through a pidfd (the fallback for kernels older than 5.3). Not for production use.
void TEST_SetPidfdDisabled(bool disabled);

}  // namespace baton::tools
