// Suppression lists for ad-platform audience sync: the platforms' hashes of contact points that
// must not be targeted, kept in a file that is always replaced whole.
#pragma once

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "assent/v1/types.pb.h"

namespace assent::audience {

// Which "hashed customer match" convention to follow. The platforms agree on SHA-256 in lower-case
// hex and on emails (trimmed, lower-cased) but not on phone numbers.
enum class AdPlatform {
  // Google Customer Match / enhanced conversions: the phone in E.164 with its leading '+'
  // ("+4915112345678").
  kGoogle,
  // Meta custom audiences: digits only, country code first, no '+' ("4915112345678"); Meta
  // matches nothing for a hash that included the '+'.
  kMeta,
};

// The hash an ad platform matches for a contact point that contact::Normalize already normalised:
//   email: SHA-256 of the value with surrounding ASCII whitespace trimmed and ASCII letters
//          lower-cased. Ad platforms lower-case the whole address, whereas Assent's store key
//          keeps the local part's case, so "Alice@example.com" and "alice@example.com" are two
//          contacts in Assent but one hash here (see SuppressionSet::Remove). Google's
//          enhanced-conversions guides also drop '.' from gmail.com local parts; that is not done
//          here (Customer Match and Meta do not ask for it).
//   phone: SHA-256 of the E.164 value, with or without the '+' as `platform` requires. The value
//          must be E.164: '+' and 2..15 digits, the first not 0.
// Returns 64 lower-case hex digits. Errors: INVALID_ARGUMENT "contact.type: ..." for a type other
// than email or phone, "contact.value: ..." for an empty email or a phone not in E.164. Pure;
// thread-safe.
absl::StatusOr<std::string> AdPlatformHash(AdPlatform platform, v1::ContactType type,
                                           std::string_view normalized_value);

// Whether `hash` has the form AdPlatformHash returns: 64 characters of [0-9a-f].
bool IsAdPlatformHash(std::string_view hash);

// A set of ad-platform hashes, iterated in sorted order so the file written from it is
// deterministic. Not thread-safe: like a std::set, concurrent const calls are fine, anything else
// needs external synchronisation.
class SuppressionSet {
 public:
  SuppressionSet() = default;

  // Adds `hash`; returns whether the set changed. `hash` must satisfy IsAdPlatformHash: anything
  // else could only come from a bug and would corrupt the file, so it aborts the process.
  bool Add(std::string_view hash);
  // Removes `hash`; returns whether the set changed. Several Assent contacts can share one hash
  // (see AdPlatformHash), so remove a hash only when no contact that maps to it is suppressed.
  bool Remove(std::string_view hash);
  bool contains(std::string_view hash) const;
  size_t size() const { return hashes_.size(); }
  // Sorted; valid until the next Add or Remove.
  const std::set<std::string, std::less<>>& hashes() const { return hashes_; }

  // Whether an Add or Remove changed the set since it was made (or read from a file) or since
  // the last MarkClean(). Callers write the file when dirty() and call MarkClean() once the
  // write succeeded.
  bool dirty() const { return dirty_; }
  void MarkClean() { dirty_ = false; }

 private:
  std::set<std::string, std::less<>> hashes_;
  bool dirty_ = false;
};

// Replaces the file at `path` with the set's hashes, one per line ("<hash>\n"), sorted; an empty
// set gives an empty file. Atomic: the data goes to ".<name>.tmp-<pid>" in the same directory, is
// fsync'ed and renamed over `path`, and then the directory is fsync'ed, so a reader sees the old
// file or the new one, never a mix, and after a crash `path` holds one of the two (a temporary
// file may be left behind by a crash; it is removed on every error this function returns).
// Errors: UNAVAILABLE "suppression file: <path>: <strerror>". If only the final directory fsync
// fails, `path` already holds the new contents but they may not survive a power loss.
// Thread safety: safe to call concurrently with readers of `path` in any process, and with
// writers of other paths; writers of the same path must be serialised (they share the temporary
// file's name within a process).
absl::Status WriteSuppressionFile(const std::string& path, const SuppressionSet& set);

// Reads a file WriteSuppressionFile wrote. A missing file is an empty set. The result is not
// dirty(). Errors: UNAVAILABLE "suppression file: <path>: <strerror>" when the file exists but
// cannot be read; DATA_LOSS "suppression file: <path>: line <n>: ..." when a line is not a hash
// followed by '\n' (the line itself is not echoed). Lines need not be sorted or unique.
// Thread-safe.
absl::StatusOr<SuppressionSet> ReadSuppressionFile(const std::string& path);

}  // namespace assent::audience
