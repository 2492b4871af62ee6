#include "assentctl/session.h"

#include <chrono>

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
      receipts_(v1::ReceiptService::NewStub(channel)),
      out_(out) {}

void Session::SetDeadline(grpc::ClientContext& context) const {
  // Measured from each call, so a paged read gets the timeout per page.
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
}

void Session::Print(std::string_view text) { out_ << text; }

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
