#include "bench/bench_catalog.h"

#include <string>

namespace assent::bench {

v1::CreateTenantRequest BenchTenantRequest() {
  v1::CreateTenantRequest request;
  request.mutable_tenant()->set_tenant_id(kTenant);
  request.mutable_tenant()->set_display_name("Benchmark");
  return request;
}

v1::CreatePurposeRequest BenchPurposeRequest() {
  v1::CreatePurposeRequest request;
  request.set_parent(std::string("tenants/") + kTenant);
  v1::Purpose* purpose = request.mutable_purpose();
  purpose->set_purpose_id(kPurpose);
  purpose->set_display_name("Newsletter");
  purpose->set_kind(v1::MARKETING);
  purpose->set_legal_basis(v1::CONSENT);
  purpose->add_channels(v1::EMAIL);
  purpose->set_notice_version(1);
  return request;
}

}  // namespace assent::bench
