#include "http/client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

namespace baton::http {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxIdleEasyHandles = 64;

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

Status Timeout(std::string message) {
  return Status(Code::kDeadlineExceeded, std::move(message), "timeout");
}

Status Network(std::string message) {
  return Status(Code::kUnavailable, std::move(message), "network");
}

// curl takes a plain-http proxy only from lower-case http_proxy (the upper-case name can be
// set by CGI servers from a request header). baton is no CGI program, and users set HTTP_PROXY
// as other tools accept it; it is used when http_proxy is absent. Null when not applicable.
const char* UpperCaseHttpProxy(std::string_view url) {
  if (url.size() < 7 || !EqualsIgnoreCase(url.substr(0, 7), "http://")) return nullptr;
  if (std::getenv("http_proxy") != nullptr) return nullptr;
  const char* upper = std::getenv("HTTP_PROXY");
  return upper != nullptr && *upper != '\0' ? upper : nullptr;
}

CURLcode GlobalInit() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

// The awaiting operation's completion handler, type-erased. (Not asio::any_completion_handler:
// in Boost 1.81 it takes over the handler's cancellation slot.) Holds outstanding work on the
// handler's executor until completion, so the caller's io_context does not run out of work while
// the transfer is on the client's thread.
class Completion {
 public:
  virtual ~Completion() = default;
  // Clears the handler's cancellation slot and invokes it through its associated executor.
  virtual void Complete(Result<HttpResponse> result) = 0;
};

template <typename Handler>
class CompletionFor final : public Completion {
 public:
  CompletionFor(Handler handler, const asio::any_io_executor& fallback)
      : handler_(std::move(handler)),
        work_(asio::prefer(asio::get_associated_executor(handler_, fallback),
                           asio::execution::outstanding_work.tracked)) {}

  void Complete(Result<HttpResponse> result) override {
    asio::any_io_executor work = std::move(work_);
    asio::dispatch(work, [handler = std::move(handler_), result = std::move(result)]() mutable {
      auto slot = asio::get_associated_cancellation_slot(handler);
      if (slot.is_connected()) slot.clear();
      std::move(handler)(std::move(result));
    });
  }

 private:
  Handler handler_;
  asio::any_io_executor work_;
};

// One request from Send() to completion. Built on the caller's thread; from Start() on, touched
// only on the client's I/O thread.
struct Transfer : std::enable_shared_from_this<Transfer> {
  Transfer(HttpClient::Impl* i, HttpRequest r, BodySink s)
      : impl(i), request(std::move(r)), sink(std::move(s)) {}

  HttpClient::Impl* impl;
  HttpRequest request;
  BodySink sink;
  std::unique_ptr<Completion> completion;

  bool started = false;
  bool cancel_requested = false;
  bool done = false;
  CURL* easy = nullptr;
  bool added = false;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};

  // Our three timeouts (connect is curl's): one timer armed for the earliest pending deadline.
  std::optional<asio::steady_timer> timer;
  uint64_t timer_generation = 0;
  bool timer_pending = false;
  SteadyClock::time_point armed_for;
  SteadyClock::time_point started_at;
  SteadyClock::time_point sent_at;
  SteadyClock::time_point last_data;
  bool sent = false;
  bool got_first_byte = false;

  bool body_mode_known = false;
  bool stream_body = false;
  size_t body_bytes = 0;
  HttpResponse response;
  Status failure;  // set by a callback that aborted the transfer
};

// Lets a cancellation slot, on any thread, reach the I/O thread while the client exists.
class CancelGate {
 public:
  explicit CancelGate(HttpClient::Impl* impl) : impl_(impl) {}
  void Cancel(std::weak_ptr<Transfer> transfer);
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    impl_ = nullptr;
  }

 private:
  std::mutex mu_;
  HttpClient::Impl* impl_;
};

}  // namespace

class HttpClient::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        gate_(std::make_shared<CancelGate>(this)),
        work_(asio::make_work_guard(io_)),
        curl_timer_(io_) {}

  ~Impl() {
    if (thread_.joinable()) {
      asio::post(io_, [this] { Shutdown(); });
      work_.reset();
      thread_.join();
    } else {
      Shutdown();
    }
    gate_->Close();
  }

  Status Init() {
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return Internal("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Impl::SocketCallback);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Impl::TimerCallback);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options_.max_connections_per_host));
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      static_cast<long>(options_.max_total_connections));
    // Keep a burst's connections for the next one (libcurl's default keeps 4 × the transfers
    // still running, so most of a burst's connections close as it drains).
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS,
                      static_cast<long>(options_.max_total_connections));
    try {
      thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "baton-http");
        io_.run();
      });
    } catch (const std::exception& e) {
      return Internal(std::string("cannot start the HTTP client thread: ") + e.what());
    }
    return Status::Ok();
  }

  // Any thread.
  void Submit(std::shared_ptr<Transfer> t) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    asio::post(io_, [this, t = std::move(t)]() mutable { Start(std::move(t)); });
  }

  size_t InFlight() const { return in_flight_.load(std::memory_order_relaxed); }
  const std::shared_ptr<CancelGate>& gate() const { return gate_; }

  // I/O thread: the awaiting coroutine was cancelled.
  void Cancel(const std::shared_ptr<Transfer>& t) {
    if (t->done) return;
    t->cancel_requested = true;
    if (t->started) Finish(*t, Cancelled("HTTP request cancelled"));
  }

  void PostCancel(std::weak_ptr<Transfer> weak) {
    asio::post(io_, [this, weak = std::move(weak)] {
      if (std::shared_ptr<Transfer> t = weak.lock()) Cancel(t);
    });
  }

 private:
  // A socket curl asked us to watch. Owned by sockets_; pending waits hold a reference.
  struct Socket {
    Socket(asio::io_context& io, curl_socket_t s) : fd(s), desc(io) {}
    curl_socket_t fd;
    asio::posix::stream_descriptor desc;
    int want = 0;          // CURL_POLL_IN / CURL_POLL_OUT bits
    bool wait_in = false;  // a read wait (or a posted readiness) is pending
    bool wait_out = false;
    bool closed = false;
  };

  // ---- transfers ----------------------------------------------------------------------------

  void Start(std::shared_ptr<Transfer> t) {
    t->timer.emplace(io_);
    t->started = true;
    if (shutting_down_ || t->cancel_requested) {
      Finish(*t, Cancelled(shutting_down_ ? "HTTP client shut down" : "HTTP request cancelled"));
      return;
    }
    Status configured = Configure(*t);
    if (!configured.ok()) {
      Finish(*t, configured);
      return;
    }
    active_.emplace(t.get(), t);
    t->started_at = SteadyClock::now();
    CURLMcode mc = curl_multi_add_handle(multi_, t->easy);
    if (mc != CURLM_OK) {
      Finish(*t, Internal(std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc)));
      return;
    }
    t->added = true;
    ArmTimer(*t, /*bound=*/true);
  }

  Status Configure(Transfer& t) {
    const HttpRequest& req = t.request;
    if (HasLineBreak(req.method) || req.method.empty()) {
      return Status(Code::kInvalidArgument, "invalid HTTP method", "invalid_request");
    }
    bool has_expect = false;
    for (const Header& h : req.headers) {
      if (h.first.empty() || HasLineBreak(h.first) || HasLineBreak(h.second) ||
          h.first.find(':') != std::string::npos) {
        return Status(Code::kInvalidArgument, "invalid HTTP request header name or value",
                      "invalid_request");
      }
      if (EqualsIgnoreCase(h.first, "expect")) has_expect = true;
      // "Name;" is curl's spelling of a header with an empty value.
      std::string line = h.second.empty() ? h.first + ";" : h.first + ": " + h.second;
      curl_slist* next = curl_slist_append(t.headers, line.c_str());
      if (next == nullptr) return Internal("out of memory building request headers");
      t.headers = next;
    }
    if (!has_expect) {  // no "Expect: 100-continue" round trip before large bodies
      curl_slist* next = curl_slist_append(t.headers, "Expect:");
      if (next == nullptr) return Internal("out of memory building request headers");
      t.headers = next;
    }

    CURL* e = AcquireEasy();
    if (e == nullptr) return Internal("curl_easy_init failed");
    t.easy = e;
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    // No CURLOPT_PIPEWAIT: with it, concurrent first requests to an HTTP/1 server wait for the
    // first response before opening more connections (a slow model call would serialise them).
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // The receive buffer lives as long as the handle: 4 KB instead of 16 KB per call in flight.
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::WriteCallback);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::HeaderCallback);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &Impl::PrereqCallback);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, &t);
    if (req.timeouts.connect.count() > 0) {
      curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(req.timeouts.connect.count()));
    }
    if (req.max_redirects > 0) {
      curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(req.max_redirects));
    }
    if (options_.proxy.has_value()) {
      curl_easy_setopt(e, CURLOPT_PROXY, options_.proxy->c_str());
    } else if (const char* upper = UpperCaseHttpProxy(req.url)) {
      curl_easy_setopt(e, CURLOPT_PROXY, upper);  // NO_PROXY still applies
    }
    if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());

    if (req.method == "GET" && req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (req.method == "HEAD" && req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (req.method == "POST" || !req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());  // not copied: t owns it
      if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    } else {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);

    CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    if (rc != CURLE_OK) {
      return Status(Code::kInvalidArgument, std::string("invalid URL: ") + curl_easy_strerror(rc),
                    "invalid_request");
    }
    return Status::Ok();
  }

  // Completes `t` once: detaches it from curl and hands `result` to the awaiting coroutine. The
  // caller holds a reference to `t`.
  void Finish(Transfer& t, Result<HttpResponse> result) {
    if (t.done) return;
    t.done = true;
    if (t.timer) t.timer->cancel();
    if (t.easy != nullptr) {
      if (t.added) curl_multi_remove_handle(multi_, t.easy);
      ReleaseEasy(t.easy);
      t.easy = nullptr;
    }
    curl_slist_free_all(t.headers);
    t.headers = nullptr;
    t.sink = nullptr;
    active_.erase(&t);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    std::unique_ptr<Completion> completion = std::move(t.completion);
    completion->Complete(std::move(result));
  }

  Result<HttpResponse> Outcome(Transfer& t, CURLcode code) {
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
      t.response.status = static_cast<int>(status);
      return std::move(t.response);
    }
    if (!t.failure.ok()) return t.failure;
    std::string detail = t.error[0] != '\0' ? std::string(t.error) : curl_easy_strerror(code);
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:  // the only curl timeout we set is the connect one
        if (t.request.timeouts.connect.count() <= 0) {
          return Timeout(fmt::format("connect timeout: {}", detail));
        }
        return Timeout(fmt::format("connect timeout: no connection within {} ms ({})",
                                   t.request.timeouts.connect.count(), detail));
      case CURLE_PARTIAL_FILE:
        return Network(fmt::format(
            "truncated response: connection closed before the end of the body, after {} bytes "
            "({})",
            t.body_bytes, detail));
      default:
        return Network(fmt::format("network error: {}", detail));
    }
  }

  void DrainMessages() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURLcode code = msg->data.result;
      Transfer* raw = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
      auto it = active_.find(raw);
      if (it == active_.end()) continue;
      std::shared_ptr<Transfer> t = it->second;
      Finish(*t, Outcome(*t, code));
    }
  }

  // ---- our timeouts ---------------------------------------------------------------------------

  static SteadyClock::time_point NextDeadline(const Transfer& t) {
    const Timeouts& to = t.request.timeouts;
    SteadyClock::time_point d = SteadyClock::time_point::max();
    if (to.total.count() > 0) d = std::min(d, t.started_at + to.total);
    if (t.sent && !t.got_first_byte && to.first_byte.count() > 0) {
      d = std::min(d, t.sent_at + to.first_byte);
    }
    if (t.got_first_byte && to.idle.count() > 0) d = std::min(d, t.last_data + to.idle);
    return d;
  }

  // No deadline of `t` can ever come before this: each is measured from a point no earlier than
  // the start. Arming for it first means the timer is rarely re-armed during a transfer.
  static SteadyClock::time_point EarliestPossibleDeadline(const Transfer& t) {
    const Timeouts& to = t.request.timeouts;
    SteadyClock::time_point d = SteadyClock::time_point::max();
    for (Millis m : {to.total, to.first_byte, to.idle}) {
      if (m.count() > 0) d = std::min(d, t.started_at + m);
    }
    return d;
  }

  // Arms t's timer for its earliest deadline unless a pending wait already fires no later (a
  // wait that fires early re-evaluates and re-arms). `bound` arms it for EarliestPossibleDeadline
  // instead (at the start).
  void ArmTimer(Transfer& t, bool bound = false) {
    if (t.done) return;
    SteadyClock::time_point deadline = bound ? EarliestPossibleDeadline(t) : NextDeadline(t);
    if (deadline == SteadyClock::time_point::max()) return;
    if (t.timer_pending && t.armed_for <= deadline) return;
    t.armed_for = deadline;
    t.timer_pending = true;
    uint64_t generation = ++t.timer_generation;
    t.timer->expires_at(deadline);
    t.timer->async_wait(
        [this, self = t.shared_from_this(), generation](boost::system::error_code ec) {
          if (generation != self->timer_generation) return;  // superseded by a later ArmTimer
          self->timer_pending = false;
          if (ec || self->done) return;
          OnTimer(self);
        });
  }

  void OnTimer(const std::shared_ptr<Transfer>& t) {
    const Timeouts& to = t->request.timeouts;
    SteadyClock::time_point now = SteadyClock::now();
    if (to.total.count() > 0 && now >= t->started_at + to.total) {
      Finish(*t, Timeout(fmt::format("total timeout: exchange not finished after {} ms (after {} "
                                     "bytes)",
                                     to.total.count(), t->body_bytes)));
    } else if (t->sent && !t->got_first_byte && to.first_byte.count() > 0 &&
               now >= t->sent_at + to.first_byte) {
      Finish(*t, Timeout(fmt::format(
                     "first byte timeout: no response within {} ms after the request was sent",
                     to.first_byte.count())));
    } else if (t->got_first_byte && to.idle.count() > 0 && now >= t->last_data + to.idle) {
      Finish(*t, Timeout(fmt::format("idle timeout: no data for {} ms (after {} bytes)",
                                     to.idle.count(), t->body_bytes)));
    } else {
      ArmTimer(*t);
    }
  }

  void OnData(Transfer& t) {
    t.last_data = SteadyClock::now();
    if (!t.got_first_byte) {
      t.got_first_byte = true;
      ArmTimer(t);  // the idle deadline may be earlier than the first-byte one
    }
  }

  // ---- curl callbacks (I/O thread, inside curl_multi_socket_action) ---------------------------

  static int PrereqCallback(void* clientp, char*, char*, int, int) {
    auto* t = static_cast<Transfer*>(clientp);
    t->sent = true;
    t->got_first_byte = false;  // again after a redirect: wait for this request's response
    t->sent_at = SteadyClock::now();
    t->body_mode_known = false;
    t->impl->ArmTimer(*t);
    return CURL_PREREQFUNC_OK;
  }

  static size_t HeaderCallback(char* buffer, size_t size, size_t count, void* userdata) {
    auto* t = static_cast<Transfer*>(userdata);
    size_t n = size * count;
    t->impl->OnData(*t);
    std::string_view line = Trim(std::string_view(buffer, n));
    if (line.starts_with("HTTP/")) {
      t->response.headers.clear();  // a new response (after 1xx or a redirect)
      return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return n;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), LowerAscii);
    t->response.headers.emplace_back(std::move(name), std::string(Trim(line.substr(colon + 1))));
    return n;
  }

  static size_t WriteCallback(char* data, size_t size, size_t count, void* userdata) {
    auto* t = static_cast<Transfer*>(userdata);
    size_t n = size * count;
    t->impl->OnData(*t);
    if (!t->body_mode_known) {
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      t->stream_body = t->sink && status >= 200 && status < 300;
      t->body_mode_known = true;
    }
    if (t->body_bytes + n > t->request.max_response_bytes) {
      t->failure = Status(Code::kResourceExhausted,
                          fmt::format("response body larger than {} bytes (max_response_bytes)",
                                      t->request.max_response_bytes),
                          "network");
      return 0;
    }
    t->body_bytes += n;
    if (t->stream_body) {
      Status st;
      try {
        st = t->sink(std::string_view(data, n));
      } catch (const std::exception& e) {  // must not unwind through curl
        st = Internal(std::string("response body sink threw: ") + e.what());
      } catch (...) {
        st = Internal("response body sink threw");
      }
      if (!st.ok()) {
        t->failure = std::move(st);
        return 0;
      }
    } else {
      t->response.body.append(data, n);
    }
    return n;
  }

  static int SocketCallback(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
    auto* self = static_cast<Impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      self->ForgetSocket(s);
      return 0;
    }
    std::shared_ptr<Socket>& entry = self->sockets_[s];
    if (entry == nullptr || socketp == nullptr) {
      // A socket new to curl. A stale entry with the same number belongs to a closed socket.
      if (entry != nullptr) self->Detach(*entry);
      entry = std::make_shared<Socket>(self->io_, s);
      boost::system::error_code ec;
      entry->desc.assign(s, ec);
      if (ec) {
        self->sockets_.erase(s);
        return -1;
      }
      curl_multi_assign(self->multi_, s, entry.get());
    }
    entry->want = what & (CURL_POLL_IN | CURL_POLL_OUT);
    self->Watch(entry);
    return 0;
  }

  static int TimerCallback(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    if (timeout_ms < 0) {
      self->curl_timer_.cancel();
      return 0;
    }
    if (timeout_ms == 0) {
      // "As soon as possible" (every curl_multi_add_handle asks for it): a posted call, at most
      // one pending, instead of re-arming the timer (a timerfd_settime syscall each time).
      self->curl_timer_.cancel();
      if (!self->timeout_posted_) {
        self->timeout_posted_ = true;
        asio::post(self->io_, [self] {
          self->timeout_posted_ = false;
          self->SocketAction(CURL_SOCKET_TIMEOUT, 0);
        });
      }
      return 0;
    }
    self->curl_timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    self->curl_timer_.async_wait([self](boost::system::error_code ec) {
      if (!ec) self->SocketAction(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
  }

  // ---- sockets --------------------------------------------------------------------------------

  void Detach(Socket& s) {
    s.closed = true;
    if (s.desc.is_open()) s.desc.release();  // cancels its waits; curl owns the descriptor
  }

  void ForgetSocket(curl_socket_t s) {
    auto it = sockets_.find(s);
    if (it == sockets_.end()) return;
    Detach(*it->second);
    sockets_.erase(it);
  }

  // Waits for what curl wants from `s`. The reactor is edge-triggered, so readiness that arrived
  // before the wait started is checked with poll() first and acted on at once.
  void Watch(const std::shared_ptr<Socket>& s) {
    bool need_in = (s->want & CURL_POLL_IN) != 0 && !s->wait_in;
    bool need_out = (s->want & CURL_POLL_OUT) != 0 && !s->wait_out;
    if (!need_in && !need_out) return;
    pollfd p{s->fd, static_cast<short>((need_in ? POLLIN : 0) | (need_out ? POLLOUT : 0)), 0};
    int ready = 0;
    if (::poll(&p, 1, 0) > 0) {
      if (need_in && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) ready |= CURL_CSELECT_IN;
      if (need_out && (p.revents & (POLLOUT | POLLHUP | POLLERR)) != 0) ready |= CURL_CSELECT_OUT;
      if ((p.revents & POLLERR) != 0) ready |= CURL_CSELECT_ERR;
    }
    if ((ready & CURL_CSELECT_IN) != 0) {
      need_in = false;
      s->wait_in = true;
    }
    if ((ready & CURL_CSELECT_OUT) != 0) {
      need_out = false;
      s->wait_out = true;
    }
    if (ready != 0) asio::post(io_, [this, s, ready] { OnReady(s, ready); });
    if (need_in) {
      s->wait_in = true;
      s->desc.async_wait(asio::posix::descriptor_base::wait_read,
                         [this, s](boost::system::error_code ec) {
                           OnReady(s, ec ? CURL_CSELECT_IN | CURL_CSELECT_ERR : CURL_CSELECT_IN);
                         });
    }
    if (need_out) {
      s->wait_out = true;
      s->desc.async_wait(asio::posix::descriptor_base::wait_write,
                         [this, s](boost::system::error_code ec) {
                           OnReady(s, ec ? CURL_CSELECT_OUT | CURL_CSELECT_ERR : CURL_CSELECT_OUT);
                         });
    }
  }

  void OnReady(const std::shared_ptr<Socket>& s, int bits) {
    if ((bits & CURL_CSELECT_IN) != 0) s->wait_in = false;
    if ((bits & CURL_CSELECT_OUT) != 0) s->wait_out = false;
    if (s->closed) return;
    // Readiness curl no longer asked for is dropped.
    if ((s->want & CURL_POLL_IN) == 0) bits &= ~CURL_CSELECT_IN;
    if ((s->want & CURL_POLL_OUT) == 0) bits &= ~CURL_CSELECT_OUT;
    if (bits != 0) SocketAction(s->fd, bits);
    if (!s->closed) Watch(s);
  }

  void SocketAction(curl_socket_t s, int bits) {
    if (multi_ == nullptr) return;
    int running = 0;
    curl_multi_socket_action(multi_, s, bits, &running);
    DrainMessages();
  }

  // ---- easy handles ---------------------------------------------------------------------------

  CURL* AcquireEasy() {
    if (!idle_easy_.empty()) {
      CURL* e = idle_easy_.back();
      idle_easy_.pop_back();
      return e;
    }
    return curl_easy_init();
  }

  void ReleaseEasy(CURL* e) {
    if (idle_easy_.size() < kMaxIdleEasyHandles && !shutting_down_) {
      curl_easy_reset(e);
      idle_easy_.push_back(e);
    } else {
      curl_easy_cleanup(e);
    }
  }

  void Shutdown() {
    shutting_down_ = true;
    std::vector<std::shared_ptr<Transfer>> all;
    all.reserve(active_.size());
    for (auto& [raw, t] : active_) all.push_back(t);
    for (auto& t : all) Finish(*t, Cancelled("HTTP client shut down"));
    if (multi_ != nullptr) {
      curl_multi_cleanup(multi_);  // closes pooled connections
      multi_ = nullptr;
    }
    curl_timer_.cancel();
    for (auto& [fd, s] : sockets_) Detach(*s);
    sockets_.clear();
    for (CURL* e : idle_easy_) curl_easy_cleanup(e);
    idle_easy_.clear();
  }

  Options options_;
  std::shared_ptr<CancelGate> gate_;
  std::atomic<size_t> in_flight_{0};
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer curl_timer_;
  CURLM* multi_ = nullptr;
  bool timeout_posted_ = false;  // a SocketAction(CURL_SOCKET_TIMEOUT) is posted
  bool shutting_down_ = false;
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets_;
  std::unordered_map<Transfer*, std::shared_ptr<Transfer>> active_;
  std::vector<CURL*> idle_easy_;
  std::thread thread_;
};

void CancelGate::Cancel(std::weak_ptr<Transfer> transfer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (impl_ != nullptr) impl_->PostCancel(std::move(transfer));
}

namespace {

// Initiation of Send's wait: hands the transfer to the I/O thread and routes cancellation there.
struct SendInitiation {
  HttpClient::Impl* impl;
  mutable std::shared_ptr<Transfer> transfer;
  asio::any_io_executor executor;  // the awaiting coroutine's

  template <typename Handler>
  void operator()(Handler&& handler) const {
    std::shared_ptr<Transfer> t = std::exchange(transfer, nullptr);
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign(
          [gate = impl->gate(), weak = std::weak_ptr<Transfer>(t)](asio::cancellation_type type) {
            if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
                asio::cancellation_type::none) {
              return;
            }
            gate->Cancel(weak);
          });
    }
    t->completion = std::make_unique<CompletionFor<std::decay_t<Handler>>>(
        std::forward<Handler>(handler), executor);
    impl->Submit(std::move(t));
  }
};

}  // namespace

std::string_view HttpResponse::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.first, name)) return h.second;
  }
  return {};
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(Options options) {
  if (CURLcode code = GlobalInit(); code != CURLE_OK) {
    return Internal(std::string("curl_global_init failed: ") + curl_easy_strerror(code));
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  BATON_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() = default;

size_t HttpClient::InFlight() const { return impl_->InFlight(); }

asio::awaitable<Result<HttpResponse>> HttpClient::Send(HttpRequest request, BodySink sink) {
  asio::cancellation_state cancel_state = co_await asio::this_coro::cancellation_state;
  if (cancel_state.cancelled() != asio::cancellation_type::none) {
    co_return Cancelled("HTTP request cancelled before it was sent");
  }
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  SendInitiation initiation{
      impl_.get(), std::make_shared<Transfer>(impl_.get(), std::move(request), std::move(sink)),
      executor};
  Result<HttpResponse> result =
      co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<HttpResponse>)>(
          std::move(initiation), asio::use_awaitable);
  co_return result;
}

}  // namespace baton::http
