// ImportService: the bulk-import stream (import.proto). Each request message (up to kMaxRows
// rows of one tenant) is admitted by the CallGuard (permission consent.import, and
// contact.by_hash when a row addresses a contact point by its hash), then its rows go to the
// ledger at once, each its own committer mutation, so the committer group-commits the rows in
// flight. Responses carry each message's results in row order, messages in request order. At
// most kMaxMessagesInFlight messages are being recorded or answered at once: past that the
// reactor stops reading and gRPC's flow control holds the client back, so memory stays bounded
// however long the file.
#pragma once

#include <string_view>

#include "assent/v1/import.grpc.pb.h"
#include "consentd/call_guard.h"
#include "consentd/service_metrics.h"
#include "ledger/ledger.h"

namespace assent::consentd {

class ImportService final : public v1::ImportService::CallbackService {
 public:
  static constexpr std::string_view kName = "ImportService";
  // The most rows in one request message.
  static constexpr int kMaxRows = 1000;
  // Request messages read and not yet answered, at most.
  static constexpr size_t kMaxMessagesInFlight = 8;

  // `ledger` and `guard` must outlive the service and every call it serves; `metrics` may be null.
  ImportService(ledger::Ledger& ledger, CallGuard& guard, ServiceMetrics* metrics);

  grpc::ServerBidiReactor<v1::ImportDecisionsRequest, v1::ImportDecisionsResponse>* ImportDecisions(
      grpc::CallbackServerContext* ctx) override;

 private:
  ledger::Ledger& ledger_;
  CallGuard& guard_;
  ServiceMetrics* metrics_;
};

}  // namespace assent::consentd
