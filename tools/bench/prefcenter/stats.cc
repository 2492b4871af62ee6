#include "bench/prefcenter/stats.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace assent::bench {

void Histogram::Record(int64_t us) {
  buckets_[Index(std::max<int64_t>(us, 0))].fetch_add(1, std::memory_order_relaxed);
}

int64_t Histogram::Count() const {
  int64_t n = 0;
  for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

double Histogram::Quantile(double q) const {
  const int64_t n = Count();
  if (n == 0) return 0;
  const auto rank = static_cast<int64_t>(q * static_cast<double>(n - 1)) + 1;
  int64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return Midpoint(i);
  }
  return Midpoint(buckets_.size() - 1);
}

void Histogram::Add(const Histogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) {
    buckets_[i].fetch_add(other.buckets_[i].load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
  }
}

size_t Histogram::Index(int64_t v) {
  if (v < 2 * kSub) return static_cast<size_t>(v);
  const int e = 63 - __builtin_clzll(static_cast<uint64_t>(v)) - kSubBits;  // v >> e in [64,128)
  const size_t i = static_cast<size_t>(e) * kSub + static_cast<size_t>(v >> e);
  return std::min(i, kBuckets - 1);
}

double Histogram::Midpoint(size_t i) {
  if (i < static_cast<size_t>(2 * kSub)) return static_cast<double>(i);
  const int64_t e = static_cast<int64_t>(i) / kSub - 1;
  const int64_t sub = static_cast<int64_t>(i) - e * kSub;  // in [64,128)
  return static_cast<double>(sub << e) + static_cast<double>(int64_t{1} << e) / 2.0;
}

std::optional<int64_t> ProcessCpuMicros(int pid) {
  std::ifstream in(pid > 0 ? absl::StrCat("/proc/", pid, "/stat") : "/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t paren = line.rfind(')');  // the command name may contain spaces
  if (paren == std::string::npos || paren + 2 > line.size()) return std::nullopt;
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  // Fields after the name start at 3 (state); utime and stime are 14 and 15.
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14 && !absl::SimpleAtoi(field, &utime)) return std::nullopt;
    if (n == 15 && !absl::SimpleAtoi(field, &stime)) return std::nullopt;
  }
  return (utime + stime) * 1'000'000 / sysconf(_SC_CLK_TCK);
}

std::optional<MachineCpu> ReadMachineCpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  if (!(in >> cpu) || cpu != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  int64_t v[8] = {};
  for (int64_t& x : v) {
    if (!(in >> x)) return std::nullopt;
  }
  const int64_t tick_us = 1'000'000 / sysconf(_SC_CLK_TCK);
  MachineCpu m;
  for (int i = 0; i < 8; ++i) m.total_us += v[i] * tick_us;
  m.busy_us = m.total_us - (v[3] + v[4]) * tick_us;
  return m;
}

}  // namespace assent::bench
