#include "ads_sync/audience_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "contact/normalize.h"

namespace assent::ads {
namespace {

absl::Status LineError(std::string_view name, int line, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Sv(name), ": line ", line, ": ", Sv(why)));
}

absl::Status FileError(const std::string& path, int err) {
  char buf[256];
  return absl::UnavailableError(
      absl::StrCat("audience file: ", path, ": ", strerror_r(err, buf, sizeof(buf))));
}

}  // namespace

absl::StatusOr<std::vector<AudienceEntry>> ParseAudience(std::string_view name,
                                                         std::string_view text) {
  std::vector<AudienceEntry> entries;
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    line = StdSv(absl::StripAsciiWhitespace(Sv(line)));
    if (line.empty() || line.front() == '#') continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return LineError(name, line_number, "expected <type>:<address> (type email or phone)");
    }
    const std::string_view type_name = StdSv(absl::StripAsciiWhitespace(Sv(line.substr(0, colon))));
    v1::ContactPoint point;
    if (type_name == "email") {
      point.set_type(v1::CONTACT_EMAIL);
    } else if (type_name == "phone") {
      point.set_type(v1::CONTACT_PHONE);
    } else {
      // The type is not an address, but it could be one when the colon came from elsewhere in
      // the line; say only what is allowed.
      return LineError(name, line_number, "unknown contact type (expected email or phone)");
    }
    point.set_value(std::string(absl::StripAsciiWhitespace(Sv(line.substr(colon + 1)))));
    // Normalize's messages name the field and the rule broken, never the value.
    absl::StatusOr<std::string> normalized = contact::Normalize("contact", point);
    if (!normalized.ok()) return LineError(name, line_number, StdSv(normalized.status().message()));
    entries.push_back({line_number, point.type(), *std::move(normalized)});
  }
  return entries;
}

absl::StatusOr<std::vector<AudienceEntry>> ReadAudienceFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FileError(path, errno);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return FileError(path, errno);
  return ParseAudience(path, buffer.str());
}

absl::StatusOr<absl::Time> ModificationTime(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return FileError(path, errno);
  return absl::TimeFromTimespec(st.st_mtim);
}

}  // namespace assent::ads
