#include "common/secret_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/strings.h"

namespace assent {

absl::Status CheckSecretFileMode(std::string_view field, const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      return absl::NotFoundError(absl::StrCat(Sv(field), ": file does not exist: ", path));
    }
    return InvalidField(field, absl::StrCat("cannot stat ", path, ": ", std::strerror(error)));
  }
  if ((st.st_mode & S_IROTH) != 0) {
    return InvalidField(field, absl::StrCat(path,
                                            " is readable by every user of the machine; "
                                            "a secret file must not be (chmod o-r ",
                                            path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace assent
