// assentctl export: streams ExportSubject into standard output or a file, chunk by chunk.
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "assentctl/actions.h"
#include "assentctl/export_format.h"
#include "common/status_macros.h"

namespace assent::ctl {

absl::StatusOr<int> Export(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string tenant, RequireTenant(session.options()));
  std::optional<std::string> subject = args.Get("subject");
  if (!subject.has_value() || subject->empty()) {
    return absl::InvalidArgumentError("--subject is required");
  }
  ASSIGN_OR_RETURN(ExportFormat format, ParseExportFormat(args.Get("format").value_or("json")));
  v1::ExportSubjectRequest request;
  request.set_tenant(tenant);
  request.set_subject_id(*subject);

  // A file is written beside its final name and renamed once the export is complete, so that a
  // failed export never leaves a truncated file that looks whole.
  const std::optional<std::string> output = args.Get("output");
  const std::string partial = output.has_value() ? *output + ".partial" : "";
  std::ofstream file;
  if (output.has_value()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) return absl::UnavailableError(absl::StrCat("--output: cannot write ", partial));
  }
  // The iso27560 rendering takes each purpose's lawful basis and description from the catalog,
  // read once per purpose version; without catalog.read they are left out, with a warning.
  std::map<std::pair<std::string, uint32_t>, std::unique_ptr<v1::Purpose>> purposes;
  bool warned = false;
  PurposeLookup lookup = [&](const std::string& id, uint32_t version) -> const v1::Purpose* {
    auto [it, inserted] = purposes.try_emplace({id, version});
    if (!inserted) return it->second.get();
    v1::GetPurposeRequest get;
    get.set_name(absl::StrCat("tenants/", tenant, "/purposes/", id));
    get.set_version(version);
    auto purpose = std::make_unique<v1::Purpose>();
    absl::Status read = session.Call(
        session.catalog(), &v1::CatalogService::StubInterface::GetPurpose, get, purpose.get());
    if (!read.ok()) {
      if (!warned) {
        session.Warn(absl::StrCat("cannot read the catalog (", read.ToString(),
                                  "): lawful bases and purpose descriptions are left out"));
        warned = true;
      }
      return nullptr;
    }
    it->second = std::move(purpose);
    return it->second.get();
  };
  ExportWriter writer(format, format == ExportFormat::kIso27560 ? lookup : nullptr);
  v1::ExportTrailer trailer;
  bool have_trailer = false;
  absl::Status streamed = session.Export(request, [&](const v1::ExportChunk& chunk) {
    const std::string bytes = writer.Render(chunk);
    if (output.has_value()) {
      file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!file) return absl::UnavailableError(absl::StrCat("--output: cannot write ", partial));
    } else {
      session.Print(bytes);
    }
    if (chunk.has_trailer()) {
      trailer = chunk.trailer();
      have_trailer = true;
    }
    return absl::OkStatus();
  });
  if (output.has_value()) file.close();
  if (streamed.ok() && !have_trailer) {
    streamed = absl::DataLossError("the export ended without its trailer");
  }
  if (!streamed.ok()) {
    if (output.has_value()) std::remove(partial.c_str());
    return streamed;
  }
  if (output.has_value() && std::rename(partial.c_str(), output->c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("--output: cannot rename ", partial));
  }
  if (!trailer.chain_verified()) {
    session.Warn(absl::StrCat("the history's chain does not verify at sequence ",
                              trailer.first_broken_sequence(), ": ", trailer.problem()));
    return kExitNegative;
  }
  return kExitOk;
}

}  // namespace assent::ctl
