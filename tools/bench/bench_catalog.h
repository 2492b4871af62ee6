// The catalog every benchmark that drives the service works in: tenant "bench" and the purpose
// "marketing.newsletter" (MARKETING, consent, EMAIL, notice version 1), as requests to send
// through gRPC or the ledger.
#pragma once

#include "assent/v1/catalog.pb.h"

namespace assent::bench {

inline constexpr char kTenant[] = "bench";
inline constexpr char kPurpose[] = "marketing.newsletter";

v1::CreateTenantRequest BenchTenantRequest();
v1::CreatePurposeRequest BenchPurposeRequest();

}  // namespace assent::bench
