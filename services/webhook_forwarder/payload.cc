#include "webhook_forwarder/payload.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace assent::webhooks {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Clears every Evidence.sealed below `message`.
void StripSealed(Message& message) {
  const Descriptor* d = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  if (d == assent::v1::Evidence::descriptor()) {
    static_cast<assent::v1::Evidence&>(message).clear_sealed();
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(message, f); ++i) {
        StripSealed(*r->MutableRepeatedMessage(&message, f, i));
      }
    } else {
      StripSealed(*r->MutableMessage(&message, f));
    }
  }
}

}  // namespace

Verdict Filter(const EndpointFilter& filter, const assent::v1::ConsentChanged& event,
               absl::Time now) {
  if (!filter.tenants.empty() && !filter.tenants.contains(event.tenant())) {
    return Verdict::kFiltered;
  }
  if (!filter.kinds.empty() && !filter.kinds.contains(event.kind())) return Verdict::kFiltered;
  if (!filter.purposes.empty() && event.decisions_size() > 0) {
    bool any = false;
    for (const auto& change : event.decisions()) {
      any = any || filter.purposes.contains(change.after().purpose_id()) ||
            filter.purposes.contains(change.before().purpose_id());
    }
    if (!any) return Verdict::kFiltered;
  }
  if (filter.imported_max_age > absl::ZeroDuration() && event.decisions_size() > 0) {
    bool all_imported = true;
    for (const auto& change : event.decisions()) {
      all_imported = all_imported && change.after().imported();
    }
    const absl::Time effective = absl::FromUnixSeconds(event.effective_time().seconds()) +
                                 absl::Nanoseconds(event.effective_time().nanos());
    if (all_imported && effective < now - filter.imported_max_age) return Verdict::kOldImport;
  }
  return Verdict::kSend;
}

absl::StatusOr<std::string> Body(assent::v1::ConsentChanged event) {
  StripSealed(event);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  if (!google::protobuf::util::MessageToJsonString(event, &json, options).ok()) {
    return absl::InternalError("json: cannot print the event");
  }
  return json;
}

}  // namespace assent::webhooks
