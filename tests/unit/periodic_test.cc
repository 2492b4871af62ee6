// The clock seam that time-driven work sleeps on: the fake clock wakes sleepers when moved, and a
// periodic runner runs exactly as far as the clock is moved and stops when asked while asleep.
#include "common/periodic.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace assent {
namespace {

TEST(FakeClockTest, ASleeperWakesWhenTheClockReachesItsDeadline) {
  testing::FakeClock clock;
  const absl::Time deadline = clock.Now() + absl::Minutes(10);
  std::atomic<int> woke{-1};
  std::thread sleeper([&] { woke = clock.SleepUntil(deadline, nullptr) ? 1 : 0; });
  ASSERT_TRUE(clock.AwaitSleepers(1));
  clock.Advance(absl::Minutes(9));
  EXPECT_EQ(clock.sleepers(), 1) << "not yet due";
  clock.Advance(absl::Minutes(1));
  sleeper.join();
  EXPECT_EQ(woke.load(), 1);
  EXPECT_EQ(clock.sleepers(), 0);
}

TEST(FakeClockTest, ACancelledSleeperReturnsFalse) {
  testing::FakeClock clock;
  absl::Notification cancel;
  std::atomic<int> woke{-1};
  std::thread sleeper(
      [&] { woke = clock.SleepUntil(clock.Now() + absl::Hours(1), &cancel) ? 1 : 0; });
  ASSERT_TRUE(clock.AwaitSleepers(1));
  cancel.Notify();
  sleeper.join();
  EXPECT_EQ(woke.load(), 0);
}

TEST(SystemClockTest, SleepsUntilTheDeadlineOrTheCancel) {
  const Clock& clock = SystemClock::Get();
  const absl::Time start = clock.Now();
  EXPECT_TRUE(clock.SleepFor(absl::Milliseconds(20), nullptr));
  EXPECT_GE(clock.Now() - start, absl::Milliseconds(20));
  absl::Notification cancel;
  cancel.Notify();
  EXPECT_FALSE(clock.SleepFor(absl::Hours(1), &cancel));
}

TEST(PeriodicRunnerTest, RunsAsOftenAsTheClockMovesAndStopsWhileAsleep) {
  testing::FakeClock clock;
  std::atomic<int> runs{0};
  PeriodicRunner runner("test", clock, [&] {
    ++runs;
    return absl::Seconds(10);
  });
  runner.Start();
  ASSERT_TRUE(clock.AwaitSleepers(1));
  EXPECT_EQ(runs.load(), 1) << "the first run is at once";
  for (int i = 2; i <= 4; ++i) {
    clock.Advance(absl::Seconds(10));
    // The run happens, then the runner sleeps again.
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (runs.load() < i && absl::Now() < give_up) std::this_thread::yield();
    ASSERT_EQ(runs.load(), i);
    ASSERT_TRUE(clock.AwaitSleepers(1));
  }
  EXPECT_EQ(runs.load(), 4);
  clock.Advance(absl::Seconds(5));
  runner.Stop();  // returns although the next run is 5 s of fake time away
  EXPECT_EQ(runs.load(), 4);
}

}  // namespace
}  // namespace assent
