// The proof-of-enforcement auditor: which instances and senders count as having applied a
// withdrawal, dead instances, and the alert conditions, driven by a fake clock.
#include "consentd/auditor.h"

#include "common/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_clock.h"

namespace assent::consentd {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

class AuditorTest : public ::testing::Test {
 protected:
  AuditorTest() : auditor_(Options()) {}
  static AuditorOptions Options() {
    AuditorOptions o;
    o.senders = {"email", "sms"};
    o.alert_after = absl::Seconds(60);
    o.instance_timeout = absl::Seconds(10);
    o.honour_margin = absl::Hours(1);
    return o;
  }
  // A report from `sender`/`instance` stamped and received now: partition 0 at `next`.
  void Report(const std::string& sender, const std::string& instance, int64_t next,
              bool caught_up = true) {
    v1::EnforcementProgress p;
    p.set_sender(sender);
    p.set_instance_id(instance);
    *p.mutable_time() = ToProto(clock_.Now());
    if (caught_up) {
      v1::PartitionProgress* part = p.add_partitions();
      part->set_partition(0);
      part->set_next_offset(next);
    }
    auditor_.OnProgress(p, clock_.Now());
  }
  void Withdraw(const std::string& key, int64_t offset,
                absl::Time honour_by = absl::InfiniteFuture()) {
    auditor_.AddPending({key, 0, offset, clock_.Now(), honour_by, {}});
  }

  assent::testing::FakeClock clock_;
  Auditor auditor_;
};

TEST_F(AuditorTest, AppliedWhenEveryLiveInstanceReportedPastTheOffset) {
  Report("email", "a", 5);
  Report("email", "b", 5);
  Report("sms", "a", 5);
  Withdraw("w1", 5);
  EXPECT_THAT(auditor_.Evaluate(clock_.Now()), IsEmpty());

  clock_.Advance(absl::Milliseconds(3));
  const absl::Time first = clock_.Now();
  Report("email", "a", 6);
  // One of two email instances is not applied: email has not applied it.
  EXPECT_THAT(auditor_.Evaluate(clock_.Now()), IsEmpty());

  clock_.Advance(absl::Milliseconds(4));
  const absl::Time second = clock_.Now();
  Report("email", "b", 7);
  Report("sms", "a", 6);
  std::vector<Application> applied = auditor_.Evaluate(clock_.Now());
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].sender, 0u);
  EXPECT_EQ(applied[0].time, second);  // the later of the two instances' first covering reports
  EXPECT_FALSE(applied[0].complete);
  EXPECT_EQ(applied[1].sender, 1u);
  EXPECT_TRUE(applied[1].complete);
  EXPECT_EQ(auditor_.pending(), 0u);
  (void)first;
}

TEST_F(AuditorTest, ApplicationTimeIsTheFirstCoveringReportEvenWhenLearntLater) {
  Report("email", "a", 10);
  Report("sms", "a", 10);
  clock_.Advance(absl::Milliseconds(2));
  const absl::Time covered = clock_.Now();
  Report("email", "a", 11);
  Report("sms", "a", 11);
  clock_.Advance(absl::Milliseconds(500));
  Report("email", "a", 12);
  Report("sms", "a", 12);
  // The relay's delivery report (the offset) arrives after the senders applied it.
  Withdraw("w", 10);
  std::vector<Application> applied = auditor_.Evaluate(clock_.Now());
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].time, covered);
  EXPECT_EQ(applied[1].time, covered);
}

TEST_F(AuditorTest, InstanceNotCaughtUpHoldsItsSenderBack) {
  Report("email", "a", 6);
  Report("email", "new", 0, /*caught_up=*/false);
  Withdraw("w", 5);
  EXPECT_THAT(auditor_.Evaluate(clock_.Now()), IsEmpty());
}

TEST_F(AuditorTest, DeadInstancesDoNotCountAndASenderWithoutLiveInstancesIsNotEnforcing) {
  Report("email", "a", 1);
  Report("email", "stuck", 1);
  Report("sms", "a", 1);
  Withdraw("w", 1);
  clock_.Advance(absl::Seconds(5));
  Report("email", "a", 2);
  // "stuck" still counts: live and not applied.
  EXPECT_THAT(auditor_.Evaluate(clock_.Now()), IsEmpty());
  clock_.Advance(absl::Seconds(6));  // "stuck" last reported 11 s ago: dead
  Report("email", "a", 2);
  std::vector<Application> applied = auditor_.Evaluate(clock_.Now());
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].sender, 0u);
  // sms' only instance is dead too: it is not enforcing, nothing counts as applied by it.
  EXPECT_EQ(auditor_.Audit(clock_.Now())[1].live_instances, 0);
  EXPECT_EQ(auditor_.pending(), 1u);
}

TEST_F(AuditorTest, UnregisteredSendersAreIgnored) {
  Report("email", "a", 2);
  Report("sms", "a", 2);
  Report("push", "a", 0);
  Withdraw("w", 1);
  EXPECT_THAT(auditor_.Evaluate(clock_.Now()),
              ElementsAre(Field(&Application::sender, 0u), Field(&Application::sender, 1u)));
}

TEST_F(AuditorTest, AlertConditionHoldsOnlyForTheSenderThatDidNotApply) {
  Report("email", "a", 0);
  Report("sms", "a", 0);
  Withdraw("w", 0, clock_.Now() + absl::Hours(3));
  // Every second both publish; only email moves past the withdrawal.
  for (int i = 0; i < 61; ++i) {
    clock_.Advance(absl::Seconds(1));
    Report("email", "a", 1);
    Report("sms", "a", 0);
    auditor_.Evaluate(clock_.Now());
  }
  std::vector<SenderAudit> audit = auditor_.Audit(clock_.Now());
  EXPECT_EQ(audit[0].unenforced, 0);
  EXPECT_EQ(audit[0].oldest_unenforced, absl::ZeroDuration());
  EXPECT_EQ(audit[1].unenforced, 1);
  EXPECT_EQ(audit[1].oldest_unenforced, absl::Seconds(61));
  EXPECT_EQ(audit[1].near_honour_by, 0);
  EXPECT_EQ(audit[1].live_instances, 1);

  clock_.Advance(absl::Hours(2));  // within the 1 h margin of honour_by
  audit = auditor_.Audit(clock_.Now());
  EXPECT_EQ(audit[1].near_honour_by, 1);
  EXPECT_EQ(audit[0].near_honour_by, 0);
}

TEST_F(AuditorTest, NotUnenforcedBeforeAlertAfter) {
  Report("sms", "a", 0);
  Withdraw("w", 0);
  clock_.Advance(absl::Seconds(59));
  std::vector<SenderAudit> audit = auditor_.Audit(clock_.Now());
  EXPECT_EQ(audit[0].unenforced, 0);  // email has no instance at all, but it is early
  EXPECT_EQ(audit[1].unenforced, 0);
  EXPECT_EQ(audit[1].oldest_unenforced, absl::Seconds(59));
}

TEST_F(AuditorTest, PendingRestoredWithSomeSendersApplied) {
  Report("sms", "a", 9);
  auditor_.AddPending({"w", 0, 3, clock_.Now(), absl::InfiniteFuture(), {clock_.Now()}});
  std::vector<Application> applied = auditor_.Evaluate(clock_.Now());
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].sender, 1u);
  EXPECT_TRUE(applied[0].complete);
}

}  // namespace
}  // namespace assent::consentd
