// Web consent signals: DecodeTcString and DecodeGppString (signals/tcf.h, signals/gpp.h) and their
// JSON rendering. Input: a mode byte, then
//   't' <text>   decoded as a TC string;
//   'g' <text>   decoded as a GPP string;
//   'b' <bytes>  the bytes as a TCF core segment's bits (base64url-encoded here), so that fields
//                past the first few characters are reached with arbitrary values;
//   anything else: the whole input, type detected as assentctl decode-signal does.
// Properties: no crash; an error is INVALID_ARGUMENT "tcf ..."/"gpp ..." naming a segment and a
// bit offset ("<segment>: bit <n>: <why>"); a successful decode renders to JSON (valid UTF-8, so
// dump() does not throw) and decoding again renders the same; a TC string decodes the same with
// '=' padding added; a GPP string's section ids are strictly ascending.
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzz/fuzz_support.h"
#include "nlohmann/json.hpp"
#include "signals/gpp.h"
#include "signals/signals_json.h"
#include "signals/tcf.h"

namespace assent::fuzz {
namespace {

void RequireSignalError(const absl::Status& status) {
  const std::string text = status.ToString();
  Require(status.code() == absl::StatusCode::kInvalidArgument, "error is INVALID_ARGUMENT", text);
  const std::string_view message = StdSv(status.message());
  Require(message.starts_with("tcf ") || message.starts_with("gpp "),
          "error names a tcf or gpp segment", text);
  Require(message.find(": bit ") != std::string_view::npos, "error names a bit offset", text);
}

std::string Base64Url(std::string_view bytes) {
  static constexpr char kDict[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kDict[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kDict[(acc << (6 - bits)) & 63];
  return out;
}

void CheckTcf(std::string_view text) {
  absl::StatusOr<signals::TcString> tc = signals::DecodeTcString(text);
  if (!tc.ok()) {
    RequireSignalError(tc.status());
    return;
  }
  const std::string json = signals::TcStringToJson(*tc).dump();
  absl::StatusOr<signals::TcString> again = signals::DecodeTcString(text);
  Require(again.ok() && signals::TcStringToJson(*again).dump() == json, "decoding is repeatable",
          text);
  if (text.find('.') == std::string_view::npos) {
    absl::StatusOr<signals::TcString> padded = signals::DecodeTcString(std::string(text) + "==");
    Require(padded.ok() && signals::TcStringToJson(*padded).dump() == json,
            "'=' padding does not change the decoding", text);
  }
}

void CheckGpp(std::string_view text) {
  absl::StatusOr<signals::GppString> gpp = signals::DecodeGppString(text);
  if (!gpp.ok()) {
    RequireSignalError(gpp.status());
    return;
  }
  for (size_t i = 1; i < gpp->section_ids.size(); ++i) {
    Require(gpp->section_ids[i - 1] < gpp->section_ids[i], "section ids ascend", text);
  }
  const std::string json = signals::GppStringToJson(*gpp).dump();
  absl::StatusOr<signals::GppString> again = signals::DecodeGppString(text);
  Require(again.ok() && signals::GppStringToJson(*again).dump() == json, "decoding is repeatable",
          text);
}

}  // namespace
}  // namespace assent::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent::fuzz;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view rest = input.substr(1);
  switch (input[0]) {
    case 't':
      CheckTcf(rest);
      break;
    case 'g':
      CheckGpp(rest);
      break;
    case 'b':
      CheckTcf(Base64Url(rest));
      break;
    default: {
      absl::StatusOr<assent::signals::Json> j =
          assent::signals::DecodeSignalToJson(input, std::nullopt);
      if (!j.ok()) {
        RequireSignalError(j.status());
      } else {
        Require(!j->dump().empty(), "renders", input);
      }
      break;
    }
  }
  return 0;
}
