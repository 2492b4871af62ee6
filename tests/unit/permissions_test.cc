// consentd's RPC -> permission table: every method of Assent's services has exactly one row, no
// row names a method that does not exist, and the README's table says the same as the code.
#include "consentd/permissions.h"

#include <fstream>
#include <map>
#include <sstream>

#include "assent/v1/admin.pb.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/consent.pb.h"
#include "assent/v1/export.pb.h"
#include "assent/v1/import.pb.h"
#include "assent/v1/receipts.pb.h"
#include "assent/v1/report.pb.h"
#include "assent/v1/rights.pb.h"
#include "authz/permission.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace assent::consentd {
namespace {

std::vector<const google::protobuf::ServiceDescriptor*> Services() {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  // Referencing the messages links their files into the pool.
  (void)v1::CheckRequest::descriptor();
  (void)v1::CreateTenantRequest::descriptor();
  (void)v1::EraseSubjectRequest::descriptor();
  (void)v1::CompactStoreRequest::descriptor();
  (void)v1::ExportSubjectRequest::descriptor();
  (void)v1::GetReceiptRequest::descriptor();
  (void)v1::ImportDecisionsRequest::descriptor();
  (void)v1::GetConsentReportRequest::descriptor();
  return {pool->FindServiceByName("assent.v1.CatalogService"),
          pool->FindServiceByName("assent.v1.ConsentService"),
          pool->FindServiceByName("assent.v1.SubjectRightsService"),
          pool->FindServiceByName("assent.v1.AdminService"),
          pool->FindServiceByName("assent.v1.ExportService"),
          pool->FindServiceByName("assent.v1.ReceiptService"),
          pool->FindServiceByName("assent.v1.ImportService"),
          pool->FindServiceByName("assent.v1.ReportService")};
}

TEST(PermissionsTest, EveryRpcHasExactlyOneRule) {
  size_t methods = 0;
  for (const auto* service : Services()) {
    ASSERT_NE(service, nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string& method = service->method(i)->name();
      int rules = 0;
      for (const RpcRule& rule : RpcRules()) {
        rules += rule.service == service->name() && rule.method == method;
      }
      EXPECT_EQ(rules, 1) << service->name() << "/" << method
                          << ": add its row to services/consentd/permissions.cc and the README";
      ++methods;
    }
  }
  EXPECT_EQ(RpcRules().size(), methods) << "a rule names a method that does not exist";
}

// The README's "| `Service/Method` | `permission` |" rows.
std::map<std::string, std::string> ReadmeTable() {
  std::ifstream in(ASSENT_SOURCE_DIR "/README.md");
  std::map<std::string, std::string> rows;
  std::string line;
  while (std::getline(in, line)) {
    line.erase(0, line.find_first_not_of(' '));  // the table sits inside a list item
    if (!line.starts_with("| `") || line.find("Service/") == std::string::npos) continue;
    const size_t rpc_end = line.find('`', 3);
    const size_t perm_start = line.find('`', rpc_end + 1);
    const size_t perm_end = line.find('`', perm_start + 1);
    if (rpc_end == std::string::npos || perm_end == std::string::npos) continue;
    rows[line.substr(3, rpc_end - 3)] = line.substr(perm_start + 1, perm_end - perm_start - 1);
  }
  return rows;
}

TEST(PermissionsTest, TheReadmeTableMatchesTheCode) {
  const std::map<std::string, std::string> readme = ReadmeTable();
  std::map<std::string, std::string> code;
  for (const RpcRule& rule : RpcRules()) {
    code[std::string(rule.service) + "/" + std::string(rule.method)] =
        std::string(authz::PermissionName(rule.permission));
  }
  EXPECT_EQ(readme, code);
}

}  // namespace
}  // namespace assent::consentd
