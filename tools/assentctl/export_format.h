// What `assentctl export` writes, chunk by chunk as they arrive (nothing is held but the header):
//   proto     the ExportChunk messages, each length-delimited (a varint size, then the bytes),
//             as protobuf's writeDelimitedTo/parseDelimitedFrom read them;
//   json      one ExportChunk per line in the proto3 JSON mapping (JSON Lines); every line
//             validates against docs/export.schema.json;
//   iso27560  one JSON object per line per consent record of the history (each decision a
//             record wrote), in the fields of ISO/IEC TS 27560 as docs/ISO27560.md maps them.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/export.pb.h"
#include "nlohmann/json_fwd.hpp"

namespace assent::ctl {

enum class ExportFormat { kProto, kJson, kIso27560 };

// "proto", "json" or "iso27560"; INVALID_ARGUMENT "--format: ..." otherwise.
absl::StatusOr<ExportFormat> ParseExportFormat(std::string_view name);

// The ISO/IEC TS 27560 consent record of one decision written by `record` (a decision's state
// after the change), for the subject of `header`. `purpose` is the catalog's definition of the
// decision's purpose at its version (lawful basis, description, DPV IRI); null leaves those
// fields out rather than guess them.
nlohmann::json Iso27560Record(const v1::ExportHeader& header, const v1::HistoryRecord& record,
                              const v1::ConsentRecord& decision, const v1::Purpose* purpose);

// The catalog's purpose `purpose_id` at `version`, or null when it cannot be had.
using PurposeLookup =
    std::function<const v1::Purpose*(const std::string& purpose_id, uint32_t version)>;

class ExportWriter {
 public:
  // `purposes` (may be empty) feeds the iso27560 rendering.
  explicit ExportWriter(ExportFormat format, PurposeLookup purposes = nullptr)
      : format_(format), purposes_(std::move(purposes)) {}
  // The bytes to write for `chunk` (may be empty: the iso27560 rendering writes no line for the
  // header and trailer).
  std::string Render(const v1::ExportChunk& chunk);

 private:
  ExportFormat format_;
  PurposeLookup purposes_;
  v1::ExportHeader header_;
};

}  // namespace assent::ctl
