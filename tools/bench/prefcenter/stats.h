// What prefcenter_load measures besides the requests themselves: a lock-free latency histogram,
// the CPU time of processes (/proc/PID/stat) and of the whole machine (/proc/stat).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

namespace assent::bench {

// Log-linear latency histogram in microseconds: exact below 128 us, then 64 sub-buckets per power
// of two (at most ~1.6 % error), up to about 2^47 us. Record() may be called from any thread.
class Histogram {
 public:
  void Record(int64_t us);
  int64_t Count() const;
  // The value at quantile q (0..1): the midpoint of the bucket holding it; 0 when empty.
  double Quantile(double q) const;
  // Adds `other`'s counts to this one's (not atomic as a whole: call when both are quiet).
  void Add(const Histogram& other);

 private:
  static constexpr int kSubBits = 6;
  static constexpr int64_t kSub = int64_t{1} << kSubBits;
  static constexpr size_t kBuckets = 48 * kSub;
  static size_t Index(int64_t v);
  static double Midpoint(size_t i);
  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
};

// utime + stime of process `pid` (0: this process) in microseconds; nullopt when unreadable
// (the process is gone). Resolution: one clock tick (10 ms).
std::optional<int64_t> ProcessCpuMicros(int pid);

// CPU time of the whole machine from /proc/stat's first line, in microseconds summed over CPUs:
// busy (everything but idle and iowait) and total.
struct MachineCpu {
  int64_t busy_us = 0;
  int64_t total_us = 0;
};
std::optional<MachineCpu> ReadMachineCpu();

}  // namespace assent::bench
