#include "assentctl/import_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "assentctl/flags.h"
#include "assentctl/format.h"
#include "common/digest.h"
#include "common/hex.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "nlohmann/json.hpp"

namespace assent::ctl {
namespace {

bool KnownColumn(std::string_view name) {
  return std::find(std::begin(kImportColumns), std::end(kImportColumns), name) !=
         std::end(kImportColumns);
}

std::string Trim(std::string_view text) {
  return std::string(absl::StripAsciiWhitespace(Sv(text)));
}

// "GRANTED", "granted", "opt-in", "yes", ... -> the state; CRM exports say it many ways.
std::optional<v1::ConsentState> ParseState(std::string_view text) {
  const std::string s = absl::AsciiStrToLower(Sv(text));
  if (s == "granted" || s == "opt-in" || s == "opt_in" || s == "optin" || s == "yes" ||
      s == "true" || s == "subscribed") {
    return v1::GRANTED;
  }
  if (s == "denied" || s == "opt-out" || s == "opt_out" || s == "optout" || s == "no" ||
      s == "false" || s == "refused") {
    return v1::DENIED;
  }
  if (s == "withdrawn" || s == "unsubscribed") return v1::WITHDRAWN;
  if (s == "pending") return v1::PENDING;
  return std::nullopt;
}

// RFC 3339, or a date alone (midnight UTC).
std::optional<absl::Time> ParseWhen(std::string_view text) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, Sv(text), &t, &error)) return t;
  if (absl::ParseTime("%Y-%m-%d", Sv(text), &t, &error)) return t;
  return std::nullopt;
}

std::optional<bool> ParseBool(std::string_view text) {
  const std::string s = absl::AsciiStrToLower(Sv(text));
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return std::nullopt;
}

absl::Status Problem(RowProblem& problem, uint64_t line, std::string_view field,
                     std::string reason) {
  problem = RowProblem{line, std::string(field), reason};
  return absl::InvalidArgumentError(absl::StrCat(Sv(field), ": ", reason));
}

}  // namespace

absl::StatusOr<ImportFormat> ImportFormatFor(std::string_view path,
                                             std::optional<std::string> flag) {
  if (flag.has_value()) {
    if (*flag == "csv") return ImportFormat::kCsv;
    if (*flag == "jsonl") return ImportFormat::kJsonLines;
    return absl::InvalidArgumentError("--format: must be csv or jsonl");
  }
  if (absl::EndsWith(Sv(path), ".jsonl") || absl::EndsWith(Sv(path), ".ndjson")) {
    return ImportFormat::kJsonLines;
  }
  return ImportFormat::kCsv;
}

absl::StatusOr<ColumnMapping> ColumnMapping::Parse(std::string_view text) {
  ColumnMapping mapping;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(Sv(text), '\n')) {
    ++number;
    const std::string trimmed(absl::StripAsciiWhitespace(line));
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const size_t eq = trimmed.rfind('=');
    const std::string from = eq == std::string::npos ? "" : Trim(trimmed.substr(0, eq));
    const std::string to = eq == std::string::npos ? "" : Trim(trimmed.substr(eq + 1));
    if (from.empty() || to.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mapping: line ", number, ": expected FILE_COLUMN=ASSENT_COLUMN"));
    }
    if (!KnownColumn(to)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mapping: line ", number, ": '", to, "' is not an Assent column"));
    }
    mapping.renames_[from] = to;
  }
  return mapping;
}

std::string ColumnMapping::Canonical(std::string_view column) const {
  auto it = renames_.find(column);
  return it == renames_.end() ? std::string(column) : it->second;
}

int ImportReader::Get() {
  const int c = in_.rdbuf()->sbumpc();
  if (c != std::char_traits<char>::eof()) ++offset_;
  return c;
}

bool ImportReader::ReadCsv(std::vector<std::string>& fields, bool& unterminated) {
  constexpr int kEof = std::char_traits<char>::eof();
  fields.clear();
  unterminated = false;
  std::string field;
  bool quoted = false;
  bool any = false;
  for (;;) {
    int c = Get();
    if (c == kEof) {
      if (!any) return false;
      unterminated = quoted;
      fields.push_back(std::move(field));
      return true;
    }
    any = true;
    if (quoted) {
      if (c == '"') {
        if (in_.rdbuf()->sgetc() == '"') {
          Get();
          field.push_back('"');
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line_;
        field.push_back(static_cast<char>(c));
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && in_.rdbuf()->sgetc() == '\n') {
      // CRLF: the '\n' ends the record.
    } else if (c == '\n') {
      ++line_;
      fields.push_back(std::move(field));
      return true;
    } else {
      field.push_back(static_cast<char>(c));
    }
  }
}

bool ImportReader::ReadLine(std::string& line) {
  constexpr int kEof = std::char_traits<char>::eof();
  line.clear();
  int c = Get();
  if (c == kEof) return false;
  while (c != kEof && c != '\n') {
    line.push_back(static_cast<char>(c));
    c = Get();
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  ++line_;
  return true;
}

absl::StatusOr<std::unique_ptr<ImportReader>> ImportReader::Open(std::istream& in,
                                                                 ImportFormat format,
                                                                 const ColumnMapping& mapping) {
  std::unique_ptr<ImportReader> reader(new ImportReader(in, format));
  reader->mapping_ = mapping;
  // A UTF-8 byte-order mark (spreadsheet exports write one) is not part of the first column.
  std::streambuf* buf = in.rdbuf();
  if (buf->sgetc() == 0xEF) {
    char bom[3];
    const std::streamsize got = buf->sgetn(bom, 3);
    if (got == 3 && bom[1] == '\xBB' && bom[2] == '\xBF') {
      reader->offset_ = 3;
    } else {
      buf->pubseekpos(0);
    }
  }
  if (format == ImportFormat::kCsv) {
    std::vector<std::string> header;
    bool unterminated = false;
    if (!reader->ReadCsv(header, unterminated) || unterminated) {
      return absl::InvalidArgumentError("the CSV file has no header row");
    }
    std::set<std::string> seen;
    for (const std::string& raw : header) {
      const std::string name = mapping.Canonical(Trim(raw));
      if (name.empty()) return absl::InvalidArgumentError("the CSV header has an empty column");
      if (!KnownColumn(name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the CSV header's column '", name,
            "' is not an Assent column (rename it with --mapping; see docs/import/README.md)"));
      }
      if (!seen.insert(name).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("the CSV header names column '", name, "' twice"));
      }
      reader->columns_.push_back(name);
    }
  }
  reader->data_offset_ = reader->offset_;
  reader->data_line_ = reader->line_;
  return reader;
}

absl::Status ImportReader::Resume(uint64_t offset, uint64_t line) {
  if (offset < data_offset_) return absl::InvalidArgumentError("checkpoint: offset before data");
  const auto pos = in_.rdbuf()->pubseekpos(static_cast<std::streamoff>(offset));
  if (pos == std::streampos(std::streamoff(-1))) {
    return absl::DataLossError("checkpoint: cannot seek in the file");
  }
  offset_ = offset;
  line_ = line;
  return absl::OkStatus();
}

bool ImportReader::Next(ImportRecord& record, std::optional<RowProblem>& problem) {
  problem.reset();
  record.fields.clear();
  for (;;) {
    record.line = line_;
    if (format_ == ImportFormat::kCsv) {
      std::vector<std::string> values;
      bool unterminated = false;
      if (!ReadCsv(values, unterminated)) return false;
      record.end_offset = offset_;
      if (values.size() == 1 && values[0].empty()) continue;  // a blank line
      if (unterminated) {
        problem = RowProblem{record.line, "record", "a quoted field is not closed before the end"};
        return true;
      }
      if (values.size() != columns_.size()) {
        problem = RowProblem{
            record.line, "record",
            absl::StrCat("has ", values.size(), " fields, the header ", columns_.size())};
        return true;
      }
      for (size_t i = 0; i < values.size(); ++i) {
        if (!values[i].empty()) record.fields[columns_[i]] = std::move(values[i]);
      }
      return true;
    }
    std::string line;
    if (!ReadLine(line)) return false;
    record.end_offset = offset_;
    if (Trim(line).empty()) continue;
    nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object()) {
      problem = RowProblem{record.line, "record", "is not a JSON object"};
      return true;
    }
    for (const auto& [key, value] : object.items()) {
      const std::string name = mapping_.Canonical(key);
      if (!KnownColumn(name)) {
        problem = RowProblem{record.line, name, "is not an Assent column"};
        return true;
      }
      if (value.is_null()) continue;
      if (value.is_string()) {
        if (!value.get<std::string>().empty()) record.fields[name] = value.get<std::string>();
      } else if (value.is_number() || value.is_boolean()) {
        record.fields[name] = value.dump();
      } else {
        problem = RowProblem{record.line, name, "must be a string, number or boolean"};
        return true;
      }
    }
    return true;
  }
}

absl::StatusOr<v1::ImportRow> ToImportRow(const ImportRecord& record, const RowDefaults& defaults,
                                          std::string_view file_sha256, std::string& tenant,
                                          RowProblem& problem) {
  auto get = [&](std::string_view name) -> std::string {
    auto it = record.fields.find(name);
    return it == record.fields.end() ? std::string() : it->second;
  };
  const uint64_t line = record.line;
  v1::ImportRow row;
  row.set_row_key(absl::StrCat(Sv(file_sha256), ":", line));
  row.set_line(line);
  tenant = get("tenant").empty() ? defaults.tenant : get("tenant");
  if (tenant.empty()) return Problem(problem, line, "tenant", "is required (column or --tenant)");
  v1::RecordDecisionsRequest& request = *row.mutable_decisions();
  v1::Target& target = *request.mutable_target();
  if (!get("subject_id").empty()) {
    target.set_subject_id(get("subject_id"));
  } else if (!get("email").empty()) {
    target.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    target.mutable_contact_point()->set_value(get("email"));
  } else if (!get("phone").empty()) {
    target.mutable_contact_point()->set_type(v1::CONTACT_PHONE);
    target.mutable_contact_point()->set_value(get("phone"));
    target.mutable_contact_point()->set_default_region(get("phone_region"));
  } else {
    return Problem(problem, line, "subject_id", "one of subject_id, email or phone is required");
  }
  v1::DecisionInput& decision = *request.add_decisions();
  if (get("purpose").empty()) return Problem(problem, line, "purpose", "is required");
  decision.set_purpose_id(get("purpose"));
  if (!get("channel").empty()) {
    absl::StatusOr<v1::Channel> channel = ParseEnum<v1::Channel>("channel", get("channel"));
    if (!channel.ok()) {
      return Problem(problem, line, "channel", std::string(channel.status().message()));
    }
    decision.set_channel(*channel);
  }
  decision.set_topic(get("topic"));
  const std::optional<v1::ConsentState> state = ParseState(get("state"));
  if (!state.has_value()) {
    return Problem(problem, line, "state",
                   absl::StrCat("'", get("state"),
                                "' is not GRANTED, DENIED, WITHDRAWN or PENDING (or opt-in, "
                                "opt-out, unsubscribed, yes, no)"));
  }
  decision.set_state(*state);
  const std::optional<absl::Time> effective = ParseWhen(get("effective_time"));
  if (!effective.has_value()) {
    return Problem(problem, line, "effective_time",
                   absl::StrCat("'", get("effective_time"),
                                "' is not an RFC 3339 time (2021-03-01T12:00:00Z) or a date"));
  }
  if (!get("expire_time").empty()) {
    const std::optional<absl::Time> expire = ParseWhen(get("expire_time"));
    if (!expire.has_value()) {
      return Problem(problem, line, "expire_time", "is not an RFC 3339 time or a date");
    }
    *decision.mutable_expire_time() = ToProto(*expire);
  }
  if (!get("notice_version").empty()) {
    uint32_t version = 0;
    if (!absl::SimpleAtoi(get("notice_version"), &version)) {
      return Problem(problem, line, "notice_version", "is not a whole number");
    }
    decision.set_notice_version(version);
  }
  request.set_source(get("source").empty() ? defaults.source : get("source"));
  request.set_actor(get("actor").empty() ? defaults.actor : get("actor"));
  request.set_jurisdiction(get("jurisdiction"));
  v1::Evidence& evidence = *request.mutable_evidence();
  evidence.set_language(get("language"));
  evidence.set_ip_address(get("ip"));
  evidence.set_user_agent(get("user_agent"));
  evidence.set_reference(get("reference"));
  evidence.set_tcf_string(get("tcf_string"));
  evidence.set_gpp_string(get("gpp_string"));
  if (!get("gpc").empty()) {
    const std::optional<bool> gpc = ParseBool(get("gpc"));
    if (!gpc.has_value()) return Problem(problem, line, "gpc", "must be true or false");
    evidence.set_gpc(*gpc);
  }
  if (!get("confirm_time").empty()) {
    const std::optional<absl::Time> confirmed = ParseWhen(get("confirm_time"));
    if (!confirmed.has_value()) {
      return Problem(problem, line, "confirm_time", "is not an RFC 3339 time or a date");
    }
    *evidence.mutable_confirm_time() = ToProto(*confirmed);
  }
  v1::ImportInfo& import = *request.mutable_import();
  *import.mutable_original_effective_time() = ToProto(*effective);
  import.set_origin(get("origin").empty() ? defaults.origin : get("origin"));
  return row;
}

absl::StatusOr<std::optional<ImportCheckpoint>> ReadCheckpoint(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string magic;
  ImportCheckpoint c;
  in >> magic;
  if (magic != "assent-import-checkpoint-1") {
    return absl::DataLossError(absl::StrCat(path, " is not an import checkpoint"));
  }
  std::string key;
  std::map<std::string, uint64_t> numbers;
  while (in >> key) {
    if (key == "sha256") {
      in >> c.file_sha256;
    } else {
      uint64_t value = 0;
      if (!(in >> value)) return absl::DataLossError(absl::StrCat(path, ": bad value of ", key));
      numbers[key] = value;
    }
  }
  c.offset = numbers["offset"];
  c.line = numbers["line"];
  c.rows = numbers["rows"];
  c.imported = numbers["imported"];
  c.already = numbers["already"];
  c.rejected = numbers["rejected"];
  c.rejects_bytes = numbers["rejects_bytes"];
  if (c.file_sha256.size() != 64 || c.line == 0) {
    return absl::DataLossError(absl::StrCat(path, " is an incomplete import checkpoint"));
  }
  return c;
}

absl::Status WriteCheckpoint(const std::string& path, const ImportCheckpoint& c) {
  const std::string text =
      absl::StrCat("assent-import-checkpoint-1\nsha256 ", c.file_sha256, "\noffset ", c.offset,
                   "\nline ", c.line, "\nrows ", c.rows, "\nimported ", c.imported, "\nalready ",
                   c.already, "\nrejected ", c.rejected, "\nrejects_bytes ", c.rejects_bytes, "\n");
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("--checkpoint: cannot write ", temp));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced || std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("--checkpoint: cannot write ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  Sha256Stream digest;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0)
      digest.Update(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return ToHex(digest.Finish());
}

std::string RejectLine(const RowProblem& problem) {
  return absl::StrCat(problem.line, ",", CsvQuote(problem.field), ",", CsvQuote(problem.reason),
                      "\n");
}

}  // namespace assent::ctl
