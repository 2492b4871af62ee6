#include "rpc/parse_guard.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/unknown_field_set.h"

namespace assent::rpc {
namespace {

// The highest field number protobuf allows: no Assent message uses it, so an unknown field with
// it is our mark.
constexpr int kUnparsableField = 536870911;

thread_local bool t_capturing = false;
thread_local std::vector<std::string> t_messages;

void LogHandler(google::protobuf::LogLevel level, const char* filename, int line,
                const std::string& message) {
  if (t_capturing) {
    t_messages.push_back(message);
    return;
  }
  static constexpr const char* kLevels[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  std::fprintf(stderr, "[libprotobuf %s %s:%d] %s\n", kLevels[level], filename, line,
               message.c_str());
}

// "String field 'assent.v1.CheckRequest.tenant' contains invalid UTF-8 data when parsing a
// protocol buffer. ..." -> "assent.v1.CheckRequest.tenant".
std::string QuotedField(const std::string& log) {
  const size_t open = log.find('\'');
  if (open == std::string::npos) return "";
  const size_t close = log.find('\'', open + 1);
  if (close == std::string::npos) return "";
  return log.substr(open + 1, close - open - 1);
}

}  // namespace

void InstallProtobufLogHandler() {
  static std::once_flag installed;
  std::call_once(installed, [] { google::protobuf::SetLogHandler(&LogHandler); });
}

ProtobufLogCapture::ProtobufLogCapture() { t_capturing = true; }

ProtobufLogCapture::~ProtobufLogCapture() {
  t_capturing = false;
  if (!t_messages.empty()) t_messages.clear();
}

std::string ProtobufLogCapture::Take() {
  std::string out = absl::StrJoin(t_messages, "; ");
  t_messages.clear();
  return out;
}

void MarkUnparsable(google::protobuf::Message& request, const std::string& log) {
  request.Clear();
  request.GetReflection()->MutableUnknownFields(&request)->AddLengthDelimited(kUnparsableField,
                                                                              log);
}

namespace internal {

absl::Status UnparsableStatus(const google::protobuf::Message& request) {
  const google::protobuf::UnknownFieldSet& fields =
      request.GetReflection()->GetUnknownFields(request);
  for (int i = 0; i < fields.field_count(); ++i) {
    const google::protobuf::UnknownField& field = fields.field(i);
    if (field.number() != kUnparsableField ||
        field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    const std::string& log = field.length_delimited();
    const std::string type = request.GetDescriptor()->full_name();
    const std::string name = QuotedField(log);
    if (log.find("invalid UTF-8") != std::string::npos && !name.empty()) {
      // Name the field as the API does (relative to the request) when it is the request's own.
      const std::string own = name.starts_with(type + ".") ? name.substr(type.size() + 1) : name;
      return absl::InvalidArgumentError(
          absl::StrCat(own, ": is not valid UTF-8; the request could not be parsed as ", type));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the request could not be parsed as ", type,
                     log.empty() ? " (truncated or malformed protobuf)" : absl::StrCat(": ", log)));
  }
  return absl::OkStatus();
}

int MethodIndex(const google::protobuf::Descriptor* request_type, std::string_view method) {
  const google::protobuf::FileDescriptor* file = request_type->file();
  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::MethodDescriptor* m =
        file->service(s)->FindMethodByName(std::string(method));
    if (m != nullptr && m->input_type() == request_type) return m->index();
  }
  std::fprintf(stderr, "no method %.*s taking %s in %s\n", static_cast<int>(method.size()),
               method.data(), request_type->full_name().c_str(), file->name().c_str());
  std::abort();
}

}  // namespace internal
}  // namespace assent::rpc
