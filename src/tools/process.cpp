#include "tools/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string_view>
#include <tuple>
#include <type_traits>

extern char** environ;

namespace baton::tools {

namespace asio = boost::asio;

namespace {

// Marks every descriptor above 2 close-on-exec. glibc 2.36's closefrom spawn action was seen not
// to close anything on this platform, so descriptors opened elsewhere in the process without
// O_CLOEXEC are made safe here, just before each spawn. Async-signal-safety is not needed: this
// runs in the parent.
void MarkDescriptorsCloseOnExec() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  int self = dirfd(dir);
  while (struct dirent* e = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd <= 2 || fd == self) continue;
    int flags = fcntl(static_cast<int>(fd), F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC);
  }
  closedir(dir);
}


std::atomic<bool> pidfd_disabled{false};

constexpr size_t kReadChunk = 64 * 1024;
constexpr Millis kPollMin{1};
constexpr Millis kPollMax{50};
constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
constexpr const char* kEnvAllowList[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"};

Status ToolError(Code code, std::string message) {
  return Status(code, std::move(message), "tool_error");
}

// Maps an errno from process creation to the Status vocabulary of RunProcess().
Status SpawnError(int err, std::string_view what, std::string_view argv0) {
  std::string msg = fmt::format("cannot start '{}': {}: {}", argv0, what, std::strerror(err));
  switch (err) {
    case ENOENT:
      return ToolError(Code::kNotFound, std::move(msg));
    case EACCES:
    case EPERM:
    case ENOEXEC:
    case EISDIR:
    case ENOTDIR:
    case ETXTBSY:
    case ELOOP:
    case ENAMETOOLONG:
      return ToolError(Code::kFailedPrecondition, std::move(msg));
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return ToolError(Code::kResourceExhausted, std::move(msg));
    default:
      return ToolError(Code::kInternal, std::move(msg));
  }
}

// Owns one file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

// A close-on-exec pipe with both ends >= 3, so that the child's dup2 onto 0..2 never finds an
// end already sitting on its target (where dup2 would not clear close-on-exec).
Result<Pipe> MakePipe(std::string_view argv0) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return SpawnError(errno, "pipe2", argv0);
  Pipe pipe{Fd(fds[0]), Fd(fds[1])};
  for (Fd* end : {&pipe.read, &pipe.write}) {
    if (end->get() >= 3) continue;
    int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return SpawnError(errno, "fcntl", argv0);
    *end = Fd(moved);
  }
  return pipe;
}

Status SetNonBlocking(int fd, std::string_view argv0) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return SpawnError(errno, "fcntl", argv0);
  }
  return Status::Ok();
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// The child's environment as NAME=VALUE strings.
Result<std::vector<std::string>> BuildEnv(const ProcessSpec& spec) {
  std::vector<std::string> env;
  if (spec.inherit_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  } else {
    for (const char* name : kEnvAllowList) {
      if (const char* value = std::getenv(name)) env.push_back(fmt::format("{}={}", name, value));
    }
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || HasNul(name) || HasNul(value)) {
      return ToolError(Code::kInvalidArgument,
                       fmt::format("invalid environment variable name or value for '{}': '{}'",
                                   spec.argv[0], name));
    }
    std::string prefix = name + "=";
    auto it = std::find_if(env.begin(), env.end(),
                           [&](const std::string& e) { return e.starts_with(prefix); });
    if (it != env.end()) {
      *it = prefix + value;
    } else {
      env.push_back(prefix + value);
    }
  }
  return env;
}

std::string_view EnvValue(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& e : env) {
    if (e.size() > name.size() && e[name.size()] == '=' && e.starts_with(name)) {
      return std::string_view(e).substr(name.size() + 1);
    }
  }
  return {};
}

Status CheckCwd(const std::string& cwd, std::string_view argv0) {
  if (cwd.empty()) return Status::Ok();
  struct stat st;
  if (::stat(cwd.c_str(), &st) != 0) {
    return ToolError(Code::kFailedPrecondition,
                     fmt::format("cannot start '{}': working directory '{}': {}", argv0, cwd,
                                 std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return ToolError(
        Code::kFailedPrecondition,
        fmt::format("cannot start '{}': working directory '{}' is not a directory", argv0, cwd));
  }
  if (::access(cwd.c_str(), X_OK) != 0) {
    return ToolError(Code::kFailedPrecondition,
                     fmt::format("cannot start '{}': working directory '{}': {}", argv0, cwd,
                                 std::strerror(errno)));
  }
  return Status::Ok();
}

// Checks one candidate path: 0 when it is an executable regular file, else an errno.
int CheckExecutable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (!S_ISREG(st.st_mode)) return EACCES;
  if (::access(path.c_str(), X_OK) != 0) return errno;
  return 0;
}

// The path handed to posix_spawn for argv[0]. Only absolute PATH entries are searched.
Result<std::string> ResolveExecutable(const std::string& name, const std::string& cwd,
                                      std::string_view path_var) {
  if (name.empty()) {
    return ToolError(Code::kInvalidArgument, "cannot start a process: argv[0] is empty");
  }
  if (name.find('/') != std::string::npos) {
    std::string where = (name[0] != '/' && !cwd.empty()) ? cwd + "/" + name : name;
    int err = CheckExecutable(where);
    if (err == 0) return name;
    if (err == ENOENT || err == ENOTDIR) {
      return ToolError(Code::kNotFound,
                       fmt::format("cannot start '{}': executable not found", name));
    }
    return SpawnError(err, "executable", name);
  }
  if (path_var.empty()) path_var = kDefaultPath;
  int found_unusable = 0;
  size_t start = 0;
  while (start <= path_var.size()) {
    size_t end = path_var.find(':', start);
    if (end == std::string_view::npos) end = path_var.size();
    std::string_view dir = path_var.substr(start, end - start);
    start = end + 1;
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = fmt::format("{}/{}", dir, name);
    int err = CheckExecutable(candidate);
    if (err == 0) return candidate;
    if (err != ENOENT && err != ENOTDIR && found_unusable == 0) found_unusable = err;
  }
  if (found_unusable != 0) return SpawnError(found_unusable, "found in PATH but unusable", name);
  return ToolError(Code::kNotFound, fmt::format("cannot start '{}': executable not found in PATH "
                                                "({})",
                                                name, path_var));
}

// write(2) that never raises SIGPIPE in this process: the signal is blocked in the calling thread
// for the duration of the call and, when the write produced it, consumed before unblocking.
ssize_t WriteNoSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set, old_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  ::sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ssize_t n = ::write(fd, data, size);
  int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  errno = err;
  return n;
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  if (pidfd_disabled.load(std::memory_order_relaxed)) return -1;
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// The awaiting coroutine's completion handler, type-erased. (Not asio::any_completion_handler:
// in Boost 1.81 it takes over the handler's cancellation slot and its move assignment recurses.)
class Completion {
 public:
  virtual ~Completion() = default;
  // Clears the handler's cancellation slot and invokes it through its associated executor.
  virtual void Complete(Status status, ProcessResult result) = 0;
};

template <typename Handler>
class CompletionFor final : public Completion {
 public:
  CompletionFor(Handler handler, asio::any_io_executor fallback)
      : handler_(std::move(handler)), fallback_(std::move(fallback)) {}

  void Complete(Status status, ProcessResult result) override {
    auto ex = asio::get_associated_executor(handler_, fallback_);
    asio::dispatch(ex, [handler = std::move(handler_), status = std::move(status),
                        result = std::move(result)]() mutable {
      auto slot = asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.clear();
      std::move(handler)(std::move(status), std::move(result));
    });
  }

 private:
  Handler handler_;
  asio::any_io_executor fallback_;
};

// Bookkeeping for one running child. Created by Launch(); from Start() on, every member is touched
// only on strand_ (the destructor excepted, which runs when nothing else refers to the child).
// Pending asynchronous operations hold a shared_ptr to it.
class Child : public std::enable_shared_from_this<Child> {
 public:
  Child(const asio::any_io_executor& ex, const ProcessSpec& spec, pid_t pid)
      : strand_(asio::make_strand(ex)),
        pid_(pid),
        started_(std::chrono::steady_clock::now()),
        stdin_data_(spec.stdin_data),
        timeout_(spec.timeout),
        kill_grace_(spec.kill_grace),
        max_output_(spec.max_output_bytes),
        stdin_(strand_),
        out_(strand_),
        err_(strand_),
        pidfd_(strand_),
        timeout_timer_(strand_),
        grace_timer_(strand_),
        poll_timer_(strand_) {}

  ~Child() {
    // Reached with the child unreaped only when the io_context went away mid-run: do not leave
    // a process or a zombie behind.
    if (!reaped_) {
      ::kill(-pid_, SIGKILL);
      int status;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  // Hands the parent's pipe ends and the pidfd (-1 if none) to asio. Throws on failure.
  void Attach(Fd in, Fd out, Fd err, Fd pidfd) {
    stdin_.assign(in.Release());
    out_.assign(out.Release());
    err_.assign(err.Release());
    if (pidfd.get() >= 0) pidfd_.assign(pidfd.Release());
  }

  asio::strand<asio::any_io_executor>& strand() { return strand_; }

  // Begins I/O, exit watching and the timeout; `handler` is completed once the child is reaped
  // and its pipes are closed. Runs on strand_.
  void Start(std::unique_ptr<Completion> completion) {
    completion_ = std::move(completion);
    pending_ = 3;  // stdout, stderr, exit
    ReadLoop(out_, out_buf_, result_.out, result_.out_truncated);
    ReadLoop(err_, err_buf_, result_.err, result_.err_truncated);
    if (stdin_data_.empty()) {
      CloseQuietly(stdin_);
    } else {
      ++pending_;
      WriteStdin();
    }
    WatchExit();
    if (timeout_.count() > 0) {
      timeout_timer_.expires_after(timeout_);
      timeout_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->reaped_) return;
        self->result_.timed_out = true;
        self->Terminate();
      });
    }
    if (cancel_requested_) OnCancel();
  }

  // Terminal or partial cancellation from the awaiting coroutine. Runs on strand_.
  void OnCancel() {
    if (finished_) return;
    cancel_requested_ = true;
    if (!completion_) return;  // not started yet; Start() calls back
    cancelled_ = true;
    if (reaped_) {
      CloseAll();
    } else {
      Terminate();
    }
  }

 private:
  static void CloseQuietly(asio::posix::stream_descriptor& d) {
    boost::system::error_code ignored;
    if (d.is_open()) d.close(ignored);
  }

  void CloseAll() {
    CloseQuietly(stdin_);
    CloseQuietly(out_);
    CloseQuietly(err_);
  }

  void ReadLoop(asio::posix::stream_descriptor& d, std::array<char, kReadChunk>& buf,
                std::string& sink, bool& truncated) {
    d.async_read_some(asio::buffer(buf), [self = shared_from_this(), &d, &buf, &sink, &truncated](
                                             boost::system::error_code ec, size_t n) {
      size_t room = self->max_output_ - std::min(self->max_output_, sink.size());
      if (n > room) truncated = true;
      sink.append(buf.data(), std::min(n, room));
      if (ec) {
        CloseQuietly(d);
        self->OneDone();
        return;
      }
      self->ReadLoop(d, buf, sink, truncated);
    });
  }

  void WriteStdin() {
    while (written_ < stdin_data_.size() && stdin_.is_open()) {
      size_t chunk = std::min(kReadChunk, stdin_data_.size() - written_);
      ssize_t n = WriteNoSigpipe(stdin_.native_handle(), stdin_data_.data() + written_, chunk);
      if (n > 0) {
        written_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        stdin_.async_wait(asio::posix::stream_descriptor::wait_write,
                          [self = shared_from_this()](boost::system::error_code ec) {
                            if (ec) {
                              CloseQuietly(self->stdin_);
                              self->OneDone();
                              return;
                            }
                            self->WriteStdin();
                          });
        return;
      }
      break;  // EPIPE or another error: the child takes no more input
    }
    CloseQuietly(stdin_);
    std::string().swap(stdin_data_);
    OneDone();
  }

  void WatchExit() {
    auto self = shared_from_this();
    if (pidfd_.is_open()) {
      pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                        [self](boost::system::error_code) { self->CheckExited(); });
      return;
    }
    poll_timer_.expires_after(poll_delay_);
    poll_delay_ = std::min(poll_delay_ * 2, kPollMax);
    poll_timer_.async_wait([self](boost::system::error_code) { self->CheckExited(); });
  }

  void CheckExited() {
    siginfo_t info;
    std::memset(&info, 0, sizeof(info));
    int rc;
    do {
      rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0 && info.si_pid == 0) {
      WatchExit();  // still running
      return;
    }
    if (rc == 0) {
      // The leader is a zombie, so its pid (and group id) cannot be reused yet: kill whatever
      // it left running in its group, then reap it.
      ::kill(-pid_, SIGKILL);
      int status = 0;
      pid_t got;
      do {
        got = ::waitpid(pid_, &status, 0);
      } while (got < 0 && errno == EINTR);
      if (got == pid_ && WIFEXITED(status)) result_.exit_code = WEXITSTATUS(status);
      if (got == pid_ && WIFSIGNALED(status)) result_.term_signal = WTERMSIG(status);
      if (got != pid_) lost_status_ = true;
    } else {
      lost_status_ = true;  // reaped by someone else in this process (ECHILD)
    }
    reaped_ = true;
    result_.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started_)
                              .count();
    CloseQuietly(pidfd_);
    timeout_timer_.cancel();
    if (cancelled_) {
      CloseAll();
    } else {
      // Pipes still held by a process that escaped the group are closed after the grace period.
      grace_timer_.expires_after(kill_grace_);
      grace_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->CloseAll();
      });
    }
    OneDone();
  }

  // SIGTERM to the group now, SIGKILL after the grace period unless the leader has exited.
  void Terminate() {
    if (terminating_ || reaped_) return;
    terminating_ = true;
    ::kill(-pid_, SIGTERM);
    grace_timer_.expires_after(kill_grace_);
    grace_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->reaped_) return;
      ::kill(-self->pid_, SIGKILL);
    });
  }

  void OneDone() {
    if (--pending_ > 0) return;
    finished_ = true;
    timeout_timer_.cancel();
    grace_timer_.cancel();
    poll_timer_.cancel();
    Status status;
    if (cancelled_) {
      status = ToolError(Code::kCancelled, "process cancelled");
    } else if (lost_status_) {
      status = ToolError(Code::kInternal,
                         fmt::format("exit status of pid {} was collected elsewhere", pid_));
    }
    std::unique_ptr<Completion> completion = std::move(completion_);
    completion->Complete(std::move(status), std::move(result_));
  }

  asio::strand<asio::any_io_executor> strand_;
  const pid_t pid_;
  const std::chrono::steady_clock::time_point started_;
  std::string stdin_data_;
  const Millis timeout_;
  const Millis kill_grace_;
  const size_t max_output_;

  asio::posix::stream_descriptor stdin_, out_, err_, pidfd_;
  asio::steady_timer timeout_timer_, grace_timer_, poll_timer_;
  std::array<char, kReadChunk> out_buf_, err_buf_;

  std::unique_ptr<Completion> completion_;
  ProcessResult result_;
  size_t written_ = 0;
  int pending_ = 0;
  Millis poll_delay_ = kPollMin;
  bool reaped_ = false;
  bool lost_status_ = false;
  bool terminating_ = false;
  bool cancel_requested_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
};

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts the child and wraps it; the returned Child is not yet doing any I/O.
Result<std::shared_ptr<Child>> Launch(const asio::any_io_executor& ex, const ProcessSpec& spec) {
  if (spec.argv.empty()) {
    return ToolError(Code::kInvalidArgument, "cannot start a process: argv is empty");
  }
  const std::string& argv0 = spec.argv[0];
  for (const auto& arg : spec.argv) {
    if (HasNul(arg)) {
      return ToolError(Code::kInvalidArgument,
                       fmt::format("cannot start '{}': an argument contains a NUL byte", argv0));
    }
  }
  if (HasNul(spec.cwd)) {
    return ToolError(Code::kInvalidArgument,
                     fmt::format("cannot start '{}': cwd contains a NUL byte", argv0));
  }
  BATON_ASSIGN_OR_RETURN(std::vector<std::string> env, BuildEnv(spec));
  BATON_RETURN_IF_ERROR(CheckCwd(spec.cwd, argv0));
  BATON_ASSIGN_OR_RETURN(std::string path,
                         ResolveExecutable(argv0, spec.cwd, EnvValue(env, "PATH")));

  BATON_ASSIGN_OR_RETURN(Pipe in, MakePipe(argv0));
  BATON_ASSIGN_OR_RETURN(Pipe out, MakePipe(argv0));
  BATON_ASSIGN_OR_RETURN(Pipe err, MakePipe(argv0));
  BATON_RETURN_IF_ERROR(SetNonBlocking(in.write.get(), argv0));
  BATON_RETURN_IF_ERROR(SetNonBlocking(out.read.get(), argv0));
  BATON_RETURN_IF_ERROR(SetNonBlocking(err.read.get(), argv0));

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if (int rc = posix_spawn_file_actions_init(&actions); rc != 0) {
    return SpawnError(rc, "posix_spawn_file_actions_init", argv0);
  }
  if (int rc = posix_spawnattr_init(&attr); rc != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return SpawnError(rc, "posix_spawnattr_init", argv0);
  }
  sigset_t empty_mask, all_signals;
  sigemptyset(&empty_mask);
  sigfillset(&all_signals);
  int rc = 0;
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
  if (rc == 0 && !spec.cwd.empty()) {
    rc = posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  }
  // Belt and braces: descriptors opened elsewhere in this process without O_CLOEXEC do not leak.
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &empty_mask);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all_signals);

  std::vector<std::string> argv = spec.argv;
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  pid_t pid = -1;
  if (rc == 0) {
    MarkDescriptorsCloseOnExec();
    rc = posix_spawn(&pid, path.c_str(), &actions, &attr, c_argv.data(), c_env.data());
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    if (rc == ENOENT) {
      return ToolError(Code::kNotFound,
                       fmt::format("cannot start '{}': {} (executable or working directory "
                                   "vanished)",
                                   argv0, std::strerror(rc)));
    }
    return SpawnError(rc, "posix_spawn", argv0);
  }
  in.read.Reset();
  out.write.Reset();
  err.write.Reset();

  Fd pidfd(PidfdOpen(pid));
  std::shared_ptr<Child> child;
  try {
    child = std::make_shared<Child>(ex, spec, pid);
  } catch (const std::exception& e) {
    ::kill(-pid, SIGKILL);
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return ToolError(Code::kInternal, fmt::format("cannot start '{}': {}", argv0, e.what()));
  }
  try {
    child->Attach(std::move(in.write), std::move(out.read), std::move(err.read), std::move(pidfd));
  } catch (const std::exception& e) {
    // ~Child kills and reaps the process; the descriptors close with their owners.
    return ToolError(Code::kInternal, fmt::format("cannot start '{}': {}", argv0, e.what()));
  }
  return child;
}

// Initiation for the wait on a launched child. Moves its reference out when invoked, so that the
// awaiting coroutine frame never owns the child (which owns the frame through the handler).
struct WaitForChild {
  mutable std::shared_ptr<Child> child;
  asio::any_io_executor executor;  // the awaiting coroutine's

  template <typename Handler>
  void operator()(Handler&& handler) const {
    std::shared_ptr<Child> owned = std::exchange(child, nullptr);
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      std::weak_ptr<Child> weak = owned;
      slot.assign([weak, strand = owned->strand()](asio::cancellation_type type) {
        if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
            asio::cancellation_type::none) {
          return;
        }
        if (auto c = weak.lock()) asio::post(strand, [c] { c->OnCancel(); });
      });
    }
    std::unique_ptr<Completion> completion = std::make_unique<CompletionFor<std::decay_t<Handler>>>(
        std::forward<Handler>(handler), executor);
    asio::dispatch(owned->strand(), [owned, completion = std::move(completion)]() mutable {
      owned->Start(std::move(completion));
    });
  }
};

}  // namespace

void TEST_SetPidfdDisabled(bool disabled) {
  pidfd_disabled.store(disabled, std::memory_order_relaxed);
}

asio::awaitable<Result<ProcessResult>> RunProcess(ProcessSpec spec) {
  asio::cancellation_state cancel_state = co_await asio::this_coro::cancellation_state;
  if (cancel_state.cancelled() != asio::cancellation_type::none) {
    co_return ToolError(Code::kCancelled, fmt::format("'{}' not started: cancelled",
                                                      spec.argv.empty() ? "" : spec.argv[0]));
  }
  asio::any_io_executor ex = co_await asio::this_coro::executor;
  Result<std::shared_ptr<Child>> launched = Launch(ex, spec);
  if (!launched.ok()) co_return launched.error();
  WaitForChild wait{std::move(launched).value(), ex};
  try {
    std::tuple<Status, ProcessResult> done =
        co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Status, ProcessResult)>(
            std::move(wait), asio::use_awaitable);
    if (!std::get<0>(done).ok()) co_return std::get<0>(done);
    co_return std::move(std::get<1>(done));
  } catch (const std::exception& e) {
    co_return ToolError(Code::kInternal,
                        fmt::format("running '{}' failed: {}", spec.argv[0], e.what()));
  }
}

}  // namespace baton::tools
