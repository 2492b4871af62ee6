// Bulk import end to end: a generated file through the real assentctl against a real consentd,
// with 1 % bad rows, the import killed (SIGKILL) mid-way and resumed, the store read back
// directly (every good row's decision, once, with its original effective time), a dry run and a
// second full run that leave every column family's content unchanged.
//
// Rows: 100,000 in the regular build; 20,000 under AddressSanitizer (about 5x slower), or
// ASSENT_IMPORT_TEST_ROWS.
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "assent/v1/types.pb.h"
#include "common/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "store/report_keys.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;

int Rows() {
  if (const char* env = std::getenv("ASSENT_IMPORT_TEST_ROWS"); env != nullptr) {
    int n = 0;
    if (absl::SimpleAtoi(env, &n) && n > 0) return n;
  }
#if defined(__SANITIZE_ADDRESS__)
  return 20000;
#else
  return 100000;
#endif
}

// What the generated file should produce.
struct Expected {
  int rows = 0;
  // line -> the field its rejection names
  std::map<uint64_t, std::string> bad;
  // subject -> (channel, effective time) of each of its good rows
  std::map<std::string, std::multiset<std::pair<int, int64_t>>> good;
  int good_rows = 0;
};

// Two rows per subject (EMAIL and SMS), every 100th row bad in one of four ways (two caught by
// assentctl, two by the server), every 50th row's user agent quoted with a comma and a newline.
Expected Generate(const std::string& path, int rows) {
  Expected e;
  e.rows = rows;
  std::ofstream out(path, std::ios::binary);
  out << "\xEF\xBB\xBF"  // spreadsheets write a BOM
      << "subject_id,purpose,channel,state,effective_time,source,ip,user_agent\r\n";
  uint64_t line = 2;
  const absl::Time base = absl::FromUnixSeconds(1577836800);  // 2020-01-01
  for (int i = 0; i < rows; ++i) {
    const std::string subject = absl::StrCat("s", i / 2);
    const bool sms = i % 2 == 1;
    std::string purpose = "marketing.newsletter";
    std::string channel = sms ? "sms" : "email";
    std::string state = i % 3 == 0 ? "opt-out" : "opt-in";
    const absl::Time effective = base + absl::Minutes(i);
    std::string when = absl::FormatTime(absl::RFC3339_sec, effective, absl::UTCTimeZone());
    if (i % 100 == 42) {
      switch ((i / 100) % 4) {
        case 0:
          state = "maybe";
          e.bad[line] = "state";
          break;
        case 1:
          purpose = "no.such.purpose";
          e.bad[line] = "decisions[0].purpose_id";
          break;
        case 2:
          when = "yesterday";
          e.bad[line] = "effective_time";
          break;
        default:
          channel = "push";  // the purpose covers EMAIL and SMS only
          e.bad[line] = "decisions[0].channel";
      }
    } else {
      e.good[subject].insert({sms ? v1::SMS : v1::EMAIL, absl::ToUnixSeconds(effective)});
      ++e.good_rows;
    }
    const bool multiline = i % 50 == 7;
    out << subject << ',' << purpose << ',' << channel << ',' << state << ',' << when << ",crm,"
        << "198.51.100." << i % 250 << ','
        << (multiline ? "\"Mozilla/5.0, \"\"quoted\"\"\nsecond line\"" : "Mozilla/5.0") << "\r\n";
    line += multiline ? 2 : 1;
  }
  return e;
}

struct Summary {
  uint64_t read = 0, done = 0, already = 0, rejected = 0;
};
// "... N rows read, N imported|valid, N already imported, N rejected ..."
Summary ParseSummary(const std::string& out) {
  Summary s;
  const size_t at = out.find(" rows read, ");
  if (at == std::string::npos) return s;
  const size_t start = out.rfind(' ', at - 1) + 1;
  std::vector<std::string> words = absl::StrSplit(out.substr(start), ' ');
  if (words.size() < 10) return s;
  (void)absl::SimpleAtoi(words[0], &s.read);
  (void)absl::SimpleAtoi(words[3], &s.done);
  (void)absl::SimpleAtoi(words[5], &s.already);
  (void)absl::SimpleAtoi(words[8], &s.rejected);
  return s;
}

struct StoreContent {
  std::string digest;  // SHA-256 over every column family's name, keys and values, in order
  std::map<std::string, std::vector<v1::HistoryRecord>> history;  // by subject
  uint64_t import_keys = 0;
};

// Opens the stopped server's store read-only, every column family.
StoreContent ReadStore(const std::string& dir) {
  StoreContent content;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    rocksdb::ColumnFamilyOptions options;
    // The report aggregates are merge operands: reading them needs consentd's merge operator.
    if (name == "reports") options.merge_operator = store::NewReportCountsMergeOperator();
    descriptors.emplace_back(name, options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, descriptors, &handles, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return content;
  std::unique_ptr<rocksdb::DB> db(raw);
  Sha256Stream digest;
  auto add = [&](std::string_view bytes) {
    const uint64_t size = bytes.size();
    digest.Update(std::string_view(reinterpret_cast<const char*>(&size), sizeof(size)));
    digest.Update(bytes);
  };
  for (size_t i = 0; i < handles.size(); ++i) {
    add(names[i]);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      add(it->key().ToStringView());
      add(it->value().ToStringView());
      if (names[i] == "import") {
        ++content.import_keys;
        // tenant \0 SHA-256 of the row key: nothing of the row itself.
        EXPECT_EQ(it->key().size(), std::string("acme").size() + 1 + 32);
        EXPECT_EQ(it->value().size(), 8u);  // the sequence recorded
      }
      if (names[i] == "history") {
        v1::HistoryRecord record;
        EXPECT_TRUE(
            record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
        content.history[record.target().subject_id()].push_back(record);
      }
    }
    EXPECT_TRUE(it->status().ok());
  }
  for (auto* handle : handles) (void)db->DestroyColumnFamilyHandle(handle);
  content.digest = digest.Finish();
  return content;
}

std::string Ctl(const std::string& address, const std::string& args, int* exit_status) {
  int status = 0;
  std::string out = testing::RunCommand(
      absl::StrCat(ASSENTCTL_PATH, " --server ", address, " --tenant acme ", args, " 2>&1"),
      &status);
  *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The value of "rows N" in a checkpoint file; 0 when there is none yet.
uint64_t CheckpointRows(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  uint64_t value = 0;
  while (in >> word) {
    if (word == "rows" && (in >> value)) return value;
  }
  return 0;
}

TEST(ImportTest, KilledAndResumedImportRecordsEveryGoodRowOnceAndDryRunChangesNothing) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  testing::ConsentdProcess server(CONSENTD_PATH, data, dir.path());
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ASSERT_TRUE(server.SeedCatalog("marketing.newsletter", {v1::EMAIL, v1::SMS}));
  const std::string file = dir.Sub("crm.csv");
  const Expected expected = Generate(file, Rows());

  // Killed once a quarter of the rows are answered (the checkpoint says so).
  {
    testing::ChildProcess ctl(
        ASSENTCTL_PATH,
        {"--server", server.address(), "--tenant", "acme", "import", file, "--batch", "200"},
        dir.Sub("ctl1.log"));
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    bool killed = false;
    while (absl::Now() < deadline) {
      if (CheckpointRows(file + ".checkpoint") >= static_cast<uint64_t>(expected.rows / 4)) {
        ctl.Signal(SIGKILL);
        const int status = ctl.Wait(absl::Seconds(30));
        killed = WIFSIGNALED(status);
        break;
      }
      ASSERT_EQ(ctl.Wait(absl::Milliseconds(5)), -1)
          << "the import ended before it could be killed:\n"
          << testing::ReadFile(dir.Sub("ctl1.log"));
    }
    ASSERT_TRUE(killed) << testing::ReadFile(dir.Sub("ctl1.log"));
  }
  ASSERT_LT(CheckpointRows(file + ".checkpoint"), static_cast<uint64_t>(expected.rows));

  int status = 0;
  std::string out = Ctl(server.address(), "import " + file, &status);
  EXPECT_EQ(status, 1) << out;  // 1: some rows were rejected
  EXPECT_THAT(out, HasSubstr("resuming"));
  Summary summary = ParseSummary(out);
  EXPECT_EQ(summary.read, static_cast<uint64_t>(expected.rows)) << out;
  EXPECT_EQ(summary.rejected, expected.bad.size()) << out;
  // Rows in flight when it was killed were imported then and are answered "already" now.
  EXPECT_EQ(summary.done + summary.already, static_cast<uint64_t>(expected.good_rows)) << out;
  EXPECT_FALSE(std::ifstream(file + ".checkpoint").good()) << "a finished import drops it";

  // Every bad row once in the reject file, with its line and field.
  {
    std::ifstream rejects(file + ".rejects.csv");
    std::string line;
    std::getline(rejects, line);
    EXPECT_EQ(line, "line,field,reason");
    std::map<uint64_t, std::string> seen;
    while (std::getline(rejects, line)) {
      std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(',', 2));
      ASSERT_EQ(parts.size(), 3u) << line;
      uint64_t number = 0;
      ASSERT_TRUE(absl::SimpleAtoi(parts[0], &number)) << line;
      EXPECT_TRUE(seen.emplace(number, parts[1]).second) << "line " << number << " twice";
    }
    EXPECT_EQ(seen, expected.bad);
  }

  ASSERT_EQ(server.Stop(), 0) << server.log();
  const StoreContent imported = ReadStore(data);
  EXPECT_EQ(imported.import_keys, static_cast<uint64_t>(expected.good_rows));
  uint64_t records = 0;
  for (const auto& [subject, want] : expected.good) {
    auto it = imported.history.find(subject);
    ASSERT_NE(it, imported.history.end()) << subject;
    std::multiset<std::pair<int, int64_t>> got;
    for (const v1::HistoryRecord& record : it->second) {
      ASSERT_EQ(record.decisions_size(), 1);
      const v1::ConsentRecord& after = record.decisions(0).after();
      EXPECT_TRUE(after.imported());
      EXPECT_EQ(after.import_origin(), "file:crm.csv");
      got.insert({after.channel(), after.effective_time().seconds()});
    }
    EXPECT_EQ(got, want) << subject;  // each good row exactly once, at its original time
    records += it->second.size();
  }
  EXPECT_EQ(records, static_cast<uint64_t>(expected.good_rows));

  // A dry run validates every row and writes nothing.
  ASSERT_NO_FATAL_FAILURE(server.Start());
  out = Ctl(server.address(), "import --dry-run " + file, &status);
  EXPECT_EQ(status, 1) << out;
  summary = ParseSummary(out);
  EXPECT_THAT(out, HasSubstr("validated"));
  EXPECT_EQ(summary.done, static_cast<uint64_t>(expected.good_rows)) << out;
  EXPECT_EQ(summary.rejected, expected.bad.size()) << out;
  ASSERT_EQ(server.Stop(), 0) << server.log();
  EXPECT_TRUE(ReadStore(data).digest == imported.digest)
      << "the dry run changed the store's content";

  // The same file again (a month later): every row answered "already imported", nothing written.
  ASSERT_NO_FATAL_FAILURE(server.Start());
  out = Ctl(server.address(), "import " + file, &status);
  summary = ParseSummary(out);
  EXPECT_EQ(summary.done, 0u) << out;
  EXPECT_EQ(summary.already, static_cast<uint64_t>(expected.good_rows)) << out;
  ASSERT_EQ(server.Stop(), 0) << server.log();
  EXPECT_TRUE(ReadStore(data).digest == imported.digest)
      << "importing the file again changed the store's content";
}

}  // namespace
}  // namespace assent
