#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "audience/suppression_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace assent::audience {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTestEmailSha256[] =  // sha256("test@example.com")
    "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b";
constexpr char kPhoneWithPlusSha256[] =  // sha256("+4915112345678")
    "536afd523e19dc83fccba822ef5e4ca646111314aaf0aa286667c5bea18dd70b";
constexpr char kPhoneDigitsSha256[] =  // sha256("4915112345678")
    "8efb96404be52f6109b9db0f687274a81e9e3cc23fabd6f0da5d38baa3d2facd";

// The hash, or "error <code>: <message>" so a failing expectation shows why.
std::string Hash(AdPlatform platform, v1::ContactType type, std::string_view value) {
  absl::StatusOr<std::string> got = AdPlatformHash(platform, type, value);
  if (!got.ok()) return "error " + got.status().ToString();
  return *got;
}

// A distinct valid hash per seed.
std::string HashOf(const std::string& seed) {
  return *AdPlatformHash(AdPlatform::kGoogle, v1::CONTACT_EMAIL, seed + "@example.com");
}

SuppressionSet SetOf(const std::string& prefix, int n) {
  SuppressionSet set;
  for (int i = 0; i < n; ++i) set.Add(HashOf(prefix + std::to_string(i)));
  return set;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteRaw(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

std::vector<std::string> DirectoryEntries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// --- AdPlatformHash ----------------------------------------------------------------------------

TEST(AdPlatformHashTest, EmailIsSha256OfTheWholeAddressLowerCased) {
  for (AdPlatform platform : {AdPlatform::kGoogle, AdPlatform::kMeta}) {
    EXPECT_EQ(Hash(platform, v1::CONTACT_EMAIL, "Test@Example.com"), kTestEmailSha256);
    EXPECT_EQ(Hash(platform, v1::CONTACT_EMAIL, "test@example.com"), kTestEmailSha256);
    EXPECT_EQ(Hash(platform, v1::CONTACT_EMAIL, " \tTEST@EXAMPLE.COM\r\n"), kTestEmailSha256);
  }
  // Two contacts in Assent (local-part case is kept there), one hash for the ad platforms.
  EXPECT_EQ(Hash(AdPlatform::kGoogle, v1::CONTACT_EMAIL, "Alice@example.com"),
            Hash(AdPlatform::kGoogle, v1::CONTACT_EMAIL, "alice@example.com"));
  // Gmail dots are not removed.
  EXPECT_NE(Hash(AdPlatform::kGoogle, v1::CONTACT_EMAIL, "a.lice@gmail.com"),
            Hash(AdPlatform::kGoogle, v1::CONTACT_EMAIL, "alice@gmail.com"));
}

TEST(AdPlatformHashTest, PhoneIsSha256OfE164WithThePlusForGoogleAndWithoutForMeta) {
  EXPECT_EQ(Hash(AdPlatform::kGoogle, v1::CONTACT_PHONE, "+4915112345678"), kPhoneWithPlusSha256);
  EXPECT_EQ(Hash(AdPlatform::kMeta, v1::CONTACT_PHONE, "+4915112345678"), kPhoneDigitsSha256);
  EXPECT_EQ(Hash(AdPlatform::kGoogle, v1::CONTACT_PHONE, " +4915112345678\n"),
            kPhoneWithPlusSha256);
}

TEST(AdPlatformHashTest, ResultIsLowerCaseHex) {
  std::string hash = Hash(AdPlatform::kGoogle, v1::CONTACT_PHONE, "+12025550123");
  EXPECT_TRUE(IsAdPlatformHash(hash)) << hash;
  EXPECT_TRUE(IsAdPlatformHash(kTestEmailSha256));
  EXPECT_FALSE(IsAdPlatformHash(""));
  EXPECT_FALSE(IsAdPlatformHash(std::string(kTestEmailSha256).substr(1)));
  EXPECT_FALSE(IsAdPlatformHash(std::string(kTestEmailSha256) + "0"));
  std::string upper = kTestEmailSha256;
  upper[1] = 'D';
  EXPECT_FALSE(IsAdPlatformHash(upper));
  std::string not_hex = kTestEmailSha256;
  not_hex[5] = 'g';
  EXPECT_FALSE(IsAdPlatformHash(not_hex));
}

TEST(AdPlatformHashTest, RejectsOtherTypesAndValuesThatAreNotNormalised) {
  EXPECT_THAT(Hash(AdPlatform::kGoogle, v1::CONTACT_DEVICE, "abc"),
              HasSubstr("INVALID_ARGUMENT: contact.type: "));
  EXPECT_THAT(Hash(AdPlatform::kMeta, v1::CONTACT_POSTAL, "SW1A 1AA"),
              HasSubstr("INVALID_ARGUMENT: contact.type: "));
  EXPECT_THAT(Hash(AdPlatform::kGoogle, v1::CONTACT_TYPE_UNSPECIFIED, "x"),
              HasSubstr("INVALID_ARGUMENT: contact.type: "));
  EXPECT_THAT(Hash(AdPlatform::kGoogle, v1::CONTACT_EMAIL, "  "),
              HasSubstr("INVALID_ARGUMENT: contact.value: must not be empty"));
  for (const char* phone :
       {"", "+", "+4", "4915112345678", "015112345678", "+0915112345678", "+49 151 12345678",
        "+49-15112345678", "+1234567890123456", "++49151", "+49151x"}) {
    EXPECT_THAT(Hash(AdPlatform::kGoogle, v1::CONTACT_PHONE, phone),
                HasSubstr("INVALID_ARGUMENT: contact.value: must be a phone number in E.164"))
        << phone;
  }
  // The longest E.164 number, 15 digits, is accepted.
  EXPECT_TRUE(IsAdPlatformHash(Hash(AdPlatform::kMeta, v1::CONTACT_PHONE, "+123456789012345")));
}

// --- SuppressionSet ----------------------------------------------------------------------------

TEST(SuppressionSetTest, AddAndRemoveReportChangesAndMarkDirty) {
  SuppressionSet set;
  EXPECT_FALSE(set.dirty());
  EXPECT_EQ(set.size(), 0u);

  EXPECT_TRUE(set.Add(kTestEmailSha256));
  EXPECT_TRUE(set.dirty());
  EXPECT_TRUE(set.contains(kTestEmailSha256));
  set.MarkClean();
  EXPECT_FALSE(set.Add(kTestEmailSha256));
  EXPECT_FALSE(set.dirty()) << "adding a hash already present changes nothing";
  EXPECT_EQ(set.size(), 1u);

  EXPECT_FALSE(set.Remove(kPhoneDigitsSha256));
  EXPECT_FALSE(set.Remove("not a hash"));
  EXPECT_FALSE(set.dirty()) << "removing an absent hash changes nothing";

  EXPECT_TRUE(set.Add(kPhoneWithPlusSha256));
  EXPECT_TRUE(set.Remove(kTestEmailSha256));
  EXPECT_FALSE(set.contains(kTestEmailSha256));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_TRUE(set.dirty());
  set.MarkClean();
  EXPECT_TRUE(set.Remove(kPhoneWithPlusSha256));
  EXPECT_TRUE(set.dirty());
  EXPECT_EQ(set.size(), 0u);
}

TEST(SuppressionSetTest, IteratesInSortedOrder) {
  SuppressionSet set;
  set.Add(kTestEmailSha256);      // 97...
  set.Add(kPhoneWithPlusSha256);  // 53...
  set.Add(kPhoneDigitsSha256);    // 8e...
  EXPECT_THAT(set.hashes(),
              ElementsAre(kPhoneWithPlusSha256, kPhoneDigitsSha256, kTestEmailSha256));
}

TEST(SuppressionSetDeathTest, AddingSomethingThatIsNotAHashAborts) {
  SuppressionSet set;
  EXPECT_DEATH(set.Add("alice@example.com"), "not an ad-platform hash");
  EXPECT_DEATH(set.Add(std::string(kTestEmailSha256) + "\n"), "not an ad-platform hash");
}

// --- the file ----------------------------------------------------------------------------------

TEST(SuppressionFileTest, WritesSortedLinesAndReadsThemBack) {
  testing::TempDir dir;
  std::string path = dir.Sub("audience.txt");
  SuppressionSet set;
  set.Add(kTestEmailSha256);
  set.Add(kPhoneWithPlusSha256);
  set.Add(kPhoneDigitsSha256);
  ASSERT_TRUE(WriteSuppressionFile(path, set).ok());

  EXPECT_EQ(ReadAll(path), std::string(kPhoneWithPlusSha256) + "\n" + kPhoneDigitsSha256 + "\n" +
                               kTestEmailSha256 + "\n");
  absl::StatusOr<SuppressionSet> read = ReadSuppressionFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->hashes(), set.hashes());
  EXPECT_FALSE(read->dirty());
}

TEST(SuppressionFileTest, LargeSetRoundTrips) {
  testing::TempDir dir;
  std::string path = dir.Sub("audience.txt");
  SuppressionSet set = SetOf("user", 5000);  // ~320 KiB: several write chunks
  ASSERT_TRUE(WriteSuppressionFile(path, set).ok());
  EXPECT_EQ(std::filesystem::file_size(path), 5000u * 65);
  absl::StatusOr<SuppressionSet> read = ReadSuppressionFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->hashes(), set.hashes());
}

TEST(SuppressionFileTest, EmptySetIsAnEmptyFileAndAMissingFileIsAnEmptySet) {
  testing::TempDir dir;
  std::string path = dir.Sub("audience.txt");
  absl::StatusOr<SuppressionSet> missing = ReadSuppressionFile(path);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->size(), 0u);
  EXPECT_FALSE(missing->dirty());

  ASSERT_TRUE(WriteSuppressionFile(path, SuppressionSet()).ok());
  EXPECT_EQ(ReadAll(path), "");
  absl::StatusOr<SuppressionSet> empty = ReadSuppressionFile(path);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->size(), 0u);
}

TEST(SuppressionFileTest, RewriteReplacesTheWholeFileAndLeavesNoTemporaryFiles) {
  testing::TempDir dir;
  std::string path = dir.Sub("audience.txt");
  SuppressionSet big = SetOf("a", 300);
  SuppressionSet small = SetOf("b", 2);
  ASSERT_TRUE(WriteSuppressionFile(path, big).ok());
  ASSERT_TRUE(WriteSuppressionFile(path, small).ok());

  absl::StatusOr<SuppressionSet> read = ReadSuppressionFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->hashes(), small.hashes());
  EXPECT_EQ(std::filesystem::file_size(path), 2u * 65);
  EXPECT_THAT(DirectoryEntries(dir.path()), ElementsAre("audience.txt"));
}

TEST(SuppressionFileTest, RelativePathWritesInTheWorkingDirectory) {
  testing::TempDir dir;
  std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  absl::Status written = WriteSuppressionFile("audience.txt", SetOf("x", 3));
  absl::StatusOr<SuppressionSet> read = ReadSuppressionFile("audience.txt");
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(written.ok()) << written;
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 3u);
  EXPECT_THAT(DirectoryEntries(dir.path()), ElementsAre("audience.txt"));
}

TEST(SuppressionFileTest, ConcurrentReaderSeesOneCompleteSetOrTheOtherNeverAMix) {
  testing::TempDir dir;
  std::string path = dir.Sub("audience.txt");
  // Different sizes, disjoint contents, each several write chunks long: a partial or mixed file
  // would differ from both.
  const SuppressionSet a = SetOf("a", 1500);
  const SuppressionSet b = SetOf("b", 1100);
  ASSERT_TRUE(WriteSuppressionFile(path, a).ok());

  std::atomic<bool> writer_done{false};
  std::atomic<int> reads{0}, saw_a{0}, saw_b{0}, bad{0};
  std::string first_bad;
  std::thread reader([&] {
    do {
      absl::StatusOr<SuppressionSet> read = ReadSuppressionFile(path);
      ++reads;
      if (read.ok() && read->hashes() == a.hashes()) {
        ++saw_a;
      } else if (read.ok() && read->hashes() == b.hashes()) {
        ++saw_b;
      } else if (bad++ == 0) {
        first_bad = read.ok() ? "a set of " + std::to_string(read->size()) + " hashes"
                              : read.status().ToString();
      }
    } while (!writer_done.load());
  });
  absl::Status write_status;
  for (int i = 0; i < 200 && write_status.ok(); ++i) {
    write_status = WriteSuppressionFile(path, i % 2 == 0 ? b : a);
  }
  writer_done = true;
  reader.join();

  ASSERT_TRUE(write_status.ok()) << write_status;
  EXPECT_EQ(bad.load(), 0) << "first bad read: " << first_bad;
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(saw_a + saw_b, reads.load());
  EXPECT_THAT(DirectoryEntries(dir.path()), ElementsAre("audience.txt"));
  // The last write (i = 199) was `a`.
  absl::StatusOr<SuppressionSet> last = ReadSuppressionFile(path);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->hashes(), a.hashes());
}

TEST(SuppressionFileTest, UnwritableLocationsAreUnavailableAndLeaveNothingBehind) {
  testing::TempDir dir;
  SuppressionSet set = SetOf("x", 3);

  std::string in_missing_dir = dir.Sub("missing/audience.txt");
  absl::Status status = WriteSuppressionFile(in_missing_dir, set);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_EQ(status.message(),
            "suppression file: " + in_missing_dir + ": No such file or directory");

  WriteRaw(dir.Sub("plain"), "");
  status = WriteSuppressionFile(dir.Sub("plain/audience.txt"), set);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("Not a directory"));

  // The temporary file is written, then the rename onto a directory fails: it must be removed.
  std::filesystem::create_directory(dir.Sub("taken"));
  status = WriteSuppressionFile(dir.Sub("taken"), set);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("suppression file: " + dir.Sub("taken") + ": "));
  EXPECT_THAT(DirectoryEntries(dir.path()), ElementsAre("plain", "taken"));
}

TEST(SuppressionFileTest, ReadOnlyDirectoryIsUnavailable) {
  testing::TempDir dir;
  std::string ro = dir.Sub("ro");
  ASSERT_EQ(mkdir(ro.c_str(), 0555), 0);
  if (access(ro.c_str(), W_OK) == 0) {
    chmod(ro.c_str(), 0755);
    GTEST_SKIP() << "permissions are not enforced for this user (root?)";
  }
  absl::Status status = WriteSuppressionFile(ro + "/audience.txt", SetOf("x", 1));
  chmod(ro.c_str(), 0755);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("Permission denied"));
  EXPECT_TRUE(std::filesystem::is_empty(ro));
}

TEST(SuppressionFileTest, UnreadableFileIsUnavailable) {
  testing::TempDir dir;
  absl::StatusOr<SuppressionSet> read = ReadSuppressionFile(dir.path());  // a directory
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable) << read.status();
  EXPECT_EQ(read.status().message(), "suppression file: " + dir.path() + ": Is a directory");
}

TEST(SuppressionFileTest, MalformedLinesAreDataLossNamingTheLine) {
  testing::TempDir dir;
  std::string path = dir.Sub("audience.txt");
  const std::string h1 = kPhoneWithPlusSha256;
  const std::string h2 = kTestEmailSha256;
  std::string upper = h2;
  upper[0] = 'A';
  struct Case {
    std::string contents;
    std::string line;
  };
  const Case cases[] = {
      {h1 + "\n" + h2 + "\nalice@example.com\n", "line 3:"},
      {h1 + "\n" + upper + "\n", "line 2:"},
      {h1 + "\n\n" + h2 + "\n", "line 2:"},
      {h1 + "\r\n", "line 1:"},
      {" " + h1 + "\n", "line 1:"},
      {h1.substr(1) + "\n", "line 1:"},
      {h1 + "\n" + h2, "line 2:"},                // no final newline
      {h1 + "\n" + h2.substr(0, 30), "line 2:"},  // truncated
  };
  for (const Case& c : cases) {
    WriteRaw(path, c.contents);
    absl::StatusOr<SuppressionSet> read = ReadSuppressionFile(path);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << c.contents;
    EXPECT_THAT(read.status().message(), HasSubstr("suppression file: " + path + ": " + c.line))
        << c.contents;
    EXPECT_THAT(read.status().message(), Not(HasSubstr("alice"))) << "the line is not echoed";
  }
}

TEST(SuppressionFileTest, UnsortedAndDuplicateLinesAreAccepted) {
  testing::TempDir dir;
  std::string path = dir.Sub("audience.txt");
  WriteRaw(path, std::string(kTestEmailSha256) + "\n" + kPhoneDigitsSha256 + "\n" +
                     kTestEmailSha256 + "\n");
  absl::StatusOr<SuppressionSet> read = ReadSuppressionFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(read->hashes(), ElementsAre(kPhoneDigitsSha256, kTestEmailSha256));
  EXPECT_FALSE(read->dirty());
}

}  // namespace
}  // namespace assent::audience
