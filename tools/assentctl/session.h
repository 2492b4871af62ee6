// What a running assentctl command talks through: the resolved global options, the two API stubs,
// and the output stream. Calls get the --timeout deadline; their failures come back as
// absl::Status marked as call failures (see IsCallFailure), so that a server's INVALID_ARGUMENT is
// not mistaken for a usage error.
#pragma once

#include <memory>
#include <ostream>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "assent/v1/admin.grpc.pb.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/export.grpc.pb.h"
#include "assent/v1/import.grpc.pb.h"
#include "assent/v1/receipts.grpc.pb.h"
#include "assent/v1/report.grpc.pb.h"
#include "assent/v1/rights.grpc.pb.h"
#include "assentctl/requests.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace assent::ctl {

// The status of a failed call, with its code and message, marked as coming from the server (or
// the channel) rather than from the command line.
absl::Status CallFailure(const grpc::Status& status);
bool IsCallFailure(const absl::Status& status);

class Session {
 public:
  // `channel` and `out` must outlive the session.
  Session(GlobalOptions options, const std::shared_ptr<grpc::ChannelInterface>& channel,
          std::ostream& out);

  const GlobalOptions& options() const { return options_; }
  v1::CatalogService::StubInterface& catalog() { return *catalog_; }
  v1::ConsentService::StubInterface& consent() { return *consent_; }
  v1::SubjectRightsService::StubInterface& rights() { return *rights_; }
  v1::AdminService::StubInterface& admin() { return *admin_; }

  // Streams ExportSubject, handing each chunk to `each` as it arrives (the --timeout deadline
  // bounds the whole stream). OK, CallFailure(status), or the first error `each` returns (the
  // call is then cancelled).
  absl::Status Export(const v1::ExportSubjectRequest& request,
                      absl::FunctionRef<absl::Status(const v1::ExportChunk&)> each);
  v1::ReceiptService::StubInterface& receipts() { return *receipts_; }
  v1::ImportService::StubInterface& importer() { return *import_; }
  v1::ReportService::StubInterface& reports() { return *reports_; }

  // Calls `method` on `stub` with the --timeout deadline. OK, or CallFailure(status).
  template <typename Stub, typename Request, typename Response>
  absl::Status Call(Stub& stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::Status status = (stub.*method)(&context, request, response);
    return status.ok() ? absl::OkStatus() : CallFailure(status);
  }

  // Writes text as is.
  void Print(std::string_view text);
  // Writes a diagnostic line ("assentctl: <text>") to the error stream (standard error unless
  // set_err named another), for results that are not the command's output.
  void Warn(std::string_view text);
  // `err` must outlive the session.
  void set_err(std::ostream& err) { err_ = &err; }
  // Writes `message` as one line of JSON (proto3 JSON mapping, default values included).
  void PrintJson(const google::protobuf::Message& message);

 private:
  void SetDeadline(grpc::ClientContext& context) const;

  GlobalOptions options_;
  std::unique_ptr<v1::CatalogService::StubInterface> catalog_;
  std::unique_ptr<v1::ConsentService::StubInterface> consent_;
  std::unique_ptr<v1::SubjectRightsService::StubInterface> rights_;
  std::unique_ptr<v1::AdminService::StubInterface> admin_;
  std::unique_ptr<v1::ExportService::StubInterface> export_;
  std::unique_ptr<v1::ReceiptService::StubInterface> receipts_;
  std::unique_ptr<v1::ImportService::StubInterface> import_;
  std::unique_ptr<v1::ReportService::StubInterface> reports_;
  std::ostream& out_;
  std::ostream* err_;
};

// The proto3 JSON of `message` on one line (what --json prints).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace assent::ctl
