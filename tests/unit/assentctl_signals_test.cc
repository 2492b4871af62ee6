// assentctl decode-signal: offline decoding of TCF and GPP strings to JSON, exit statuses.
#include <sstream>
#include <string>
#include <vector>

#include "assentctl/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace assent::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Result {
  int exit;
  std::string out;
  std::string err;
};

// No server: decode-signal makes no call (the address is never dialled).
Result Invoke(const std::vector<std::string>& argv) {
  std::ostringstream out;
  std::ostringstream err;
  const Environment env = {{"ASSENT_SERVER", "127.0.0.1:1"}};
  const int exit = Run(argv, env, out, err);
  return {exit, out.str(), err.str()};
}

TEST(DecodeSignalTest, DetectsGppAndPrintsSectionsWithLibraryFieldNames) {
  // @iabgpp/cmpapi's UsNat.test.ts string, in a GPP string with header "DBABLA" (section 7).
  Result r = Invoke({"decode-signal", "DBABLA~CVVVkkkkkpFY.YA"});
  ASSERT_EQ(r.exit, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "gpp");
  EXPECT_EQ(j["decoded"]["header"]["SectionIds"], nlohmann::json({7}));
  const nlohmann::json& usnat = j["decoded"]["sections"]["usnat"];
  EXPECT_EQ(usnat["SaleOptOut"], 1);
  EXPECT_EQ(usnat["MspaServiceProviderMode"], 2);
  EXPECT_EQ(usnat["KnownChildSensitiveDataConsents"], nlohmann::json({2, 1, 0}));
  EXPECT_EQ(usnat["Gpc"], true);
  EXPECT_EQ(usnat["GpcSegmentIncluded"], true);
}

TEST(DecodeSignalTest, DetectsTcfAndJsonFlagPrintsOneLine) {
  Result r = Invoke({"decode-signal", "--json",
                     "CQd924AQd924AASACCENCNFsAP_gAEIAACiQL6QBAAGAAOANmAcAF9IAIADgAA"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "tcf");
  EXPECT_EQ(j["decoded"]["cmpId"], 18);
  EXPECT_EQ(j["decoded"]["purposeLegitimateInterests"], nlohmann::json({2, 7}));
  EXPECT_EQ(j["decoded"]["vendorConsents"], nlohmann::json({12, 14, 435, 448}));
}

TEST(DecodeSignalTest, MalformedExitsTwoWithSegmentAndBit) {
  Result r = Invoke({"decode-signal", "DBABLA~CVQq"});
  EXPECT_EQ(r.exit, 2);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, HasSubstr("gpp usnat core segment: bit 24:"));
  // Forcing the wrong type fails the same way.
  Result forced = Invoke({"decode-signal", "--type", "tcf", "DBABTA~1YNN"});
  EXPECT_EQ(forced.exit, 2);
  EXPECT_THAT(forced.err, HasSubstr("tcf core segment: bit "));
}

TEST(DecodeSignalTest, UsageErrors) {
  EXPECT_EQ(Invoke({"decode-signal"}).exit, 64);
  EXPECT_EQ(Invoke({"decode-signal", "--type", "xml", "DBABTA~1YNN"}).exit, 64);
  EXPECT_EQ(Invoke({"decode-signal", "a", "b"}).exit, 64);
}

}  // namespace
}  // namespace assent::ctl
