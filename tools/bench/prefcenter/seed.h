// The catalog and the stored state the preference-center benchmark works on, written over gRPC:
// the bench tenant (bench/bench_catalog.h), its purpose marketing.newsletter on EMAIL and SMS with
// an English notice text, a default policy, and "page subjects" with a short history each, whose
// preference-center pages the page scenario reads.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"

namespace assent::bench {

// The page subjects are kPageSubjectPrefix + 0 .. count - 1.
inline constexpr char kPageSubjectPrefix[] = "page-";
// Each page subject's history: grant EMAIL and SMS, withdraw SMS, grant SMS again.
inline constexpr int kWritesPerPageSubject = 3;

// Creates the tenant, the purpose and the default policy (ALREADY_EXISTS is fine: a second run
// against the same data). Returns the first other error, naming the call.
absl::Status SeedCatalog(v1::CatalogService::Stub& catalog);

// Records kWritesPerPageSubject decisions for each of `count` page subjects from `threads`
// threads. Returns the first error, naming the subject.
absl::Status SeedPageSubjects(v1::CatalogService::Stub& catalog, v1::ConsentService::Stub& consent,
                              int64_t count, int threads);

}  // namespace assent::bench
