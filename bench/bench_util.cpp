#include "bench_util.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace baton::bench {

const char* StoreName(StoreKind k) {
  switch (k) {
    case StoreKind::kMemory:
      return "memory";
    case StoreKind::kSqliteNormal:
      return "SQLite NORMAL";
    case StoreKind::kSqliteFull:
      return "SQLite FULL";
  }
  return "?";
}

double SecondsSince(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

std::vector<double> Repeat(int reps, const std::function<void()>& fn) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(reps));
  for (int i = 0; i < reps; ++i) {
    auto t0 = BenchClock::now();
    fn();
    out.push_back(SecondsSince(t0));
  }
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Min(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) Die("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0;
  int64_t resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

int64_t PeakRssBytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

int64_t HeapInUseBytes() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

double FlushFloorSeconds(const std::string& dir, int n, size_t bytes, bool overwrite) {
  std::string path = dir + "/flush-floor";
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) Die("cannot create " + path);
  std::string buf(bytes, 'x');
  if (overwrite) {
    // Preallocate and flush, so the timed writes change no file size or block map.
    for (int i = 0; i < n; ++i) {
      if (write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) Die("write");
    }
    if (fsync(fd) != 0) Die("fsync failed");
  }
  auto t0 = BenchClock::now();
  for (int i = 0; i < n; ++i) {
    off_t at = static_cast<off_t>(i) * static_cast<off_t>(bytes);
    if (pwrite(fd, buf.data(), buf.size(), at) != static_cast<ssize_t>(buf.size())) Die("write");
    if (fdatasync(fd) != 0) Die("fdatasync failed");
  }
  double s = SecondsSince(t0);
  close(fd);
  unlink(path.c_str());
  return s / n;
}

void Die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

namespace {

// Display width of UTF-8 text: code points, counting no continuation bytes.
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void Table::Print(const std::string& title) const {
  std::vector<size_t> w(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], Width(r[i]));
  };
  widen(header_);
  for (const auto& r : rows_) widen(r);
  auto line = [&](const std::vector<std::string>& r) {
    std::string s = "|";
    for (size_t i = 0; i < w.size(); ++i) {
      const std::string cell = i < r.size() ? r[i] : "";
      s += " " + cell + std::string(w[i] - std::min(w[i], Width(cell)), ' ') + " |";
    }
    std::puts(s.c_str());
  };
  std::printf("\n### %s\n\n", title.c_str());
  line(header_);
  std::string sep = "|";
  for (size_t x : w) sep += std::string(x + 2, '-') + "|";
  std::puts(sep.c_str());
  for (const auto& r : rows_) line(r);
  std::fflush(stdout);
}

std::string FormatSeconds(double s) {
  if (s < 1e-6) return fmt::format("{:.0f} ns", s * 1e9);
  if (s < 1e-3) return fmt::format("{:.2f} µs", s * 1e6);
  if (s < 1) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.2f} s", s);
}

std::string FormatMiB(int64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace baton::bench
