#include "assentctl/session.h"

#include <chrono>
#include <iostream>

#include "absl/strings/cord.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"

namespace assent::ctl {
namespace {

// The payload that marks a status as a failed call.
constexpr char kCallFailurePayload[] = "assentctl/call-failure";

}  // namespace

absl::Status CallFailure(const grpc::Status& status) {
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (out.ok()) return out;
  out.SetPayload(kCallFailurePayload, absl::Cord("1"));
  return out;
}

bool IsCallFailure(const absl::Status& status) {
  return status.GetPayload(kCallFailurePayload).has_value();
}

Session::Session(GlobalOptions options, const std::shared_ptr<grpc::ChannelInterface>& channel,
                 std::ostream& out)
    : options_(std::move(options)),
      catalog_(v1::CatalogService::NewStub(channel)),
      consent_(v1::ConsentService::NewStub(channel)),
      rights_(v1::SubjectRightsService::NewStub(channel)),
      admin_(v1::AdminService::NewStub(channel)),
      export_(v1::ExportService::NewStub(channel)),
      receipts_(v1::ReceiptService::NewStub(channel)),
      import_(v1::ImportService::NewStub(channel)),
      reports_(v1::ReportService::NewStub(channel)),
      out_(out),
      err_(&std::cerr) {}

absl::Status Session::Export(const v1::ExportSubjectRequest& request,
                             absl::FunctionRef<absl::Status(const v1::ExportChunk&)> each) {
  grpc::ClientContext context;
  SetDeadline(context);
  std::unique_ptr<grpc::ClientReaderInterface<v1::ExportChunk>> reader =
      export_->ExportSubject(&context, request);
  v1::ExportChunk chunk;
  absl::Status handled;
  while (reader->Read(&chunk)) {
    handled = each(chunk);
    if (!handled.ok()) {
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!handled.ok()) return handled;
  return status.ok() ? absl::OkStatus() : CallFailure(status);
}

void Session::SetDeadline(grpc::ClientContext& context) const {
  // Measured from each call, so a paged read gets the timeout per page.
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
}

void Session::Print(std::string_view text) { out_ << text; }

void Session::Warn(std::string_view text) { *err_ << "assentctl: " << text << '\n'; }

void Session::PrintJson(const google::protobuf::Message& message) {
  out_ << ToJson(message) << '\n';
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a message that parsed cannot fail; if it ever does, say so in the output rather than
  // print half an object.
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return R"({"error":"cannot print message as JSON"})";
  }
  return json;
}

}  // namespace assent::ctl
