// An RFC 5322 message builder for the plain-text mails Assent sends (double opt-in confirmations,
// unsubscribe receipts), with the RFC 8058 one-click unsubscribe headers.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace assent::mail {

struct MailMessage {
  // Mailbox, e.g. "Example <news@example.com>" or "news@example.com". Printable ASCII (a
  // non-ASCII display name must be given as RFC 2047 encoded words already). Required.
  std::string from;
  // Same form as `from`; several mailboxes separated by ','. Required.
  std::string to;
  // Any UTF-8 text; encoded as RFC 2047 encoded words when it is not plain ASCII. Optional.
  std::string subject;
  // "<id@host>" or "id@host" (the angle brackets are added). Printable ASCII, no spaces, one '@'.
  // Required.
  std::string message_id;
  // Rendered in UTC: "Mon, 30 Nov 2026 01:45:00 +0000". Required, years 1900..9999.
  absl::Time date = absl::InfinitePast();
  // Further header fields (name, value) in order, e.g. from ListUnsubscribeHeaders. Names are
  // RFC 5322 field names (printable ASCII without ':') and must not repeat a header this builder
  // writes itself (Date, From, To, Subject, Message-ID, MIME-Version, Content-Type,
  // Content-Transfer-Encoding). Values are printable ASCII (and tabs).
  std::vector<std::pair<std::string, std::string>> extra_headers;
  // UTF-8 text. Line breaks may be "\n" or "\r\n"; both become CRLF. Sent quoted-printable.
  std::string text_body;
};

// The message as RFC 5322 text: every line ends in CRLF; header fields in the order Date, From,
// To, Subject, Message-ID, extra_headers, MIME-Version: 1.0, Content-Type: text/plain;
// charset=utf-8, Content-Transfer-Encoding: quoted-printable; an empty line; the body. Header
// fields longer than 78 characters are folded at spaces (a single word longer than that stays on
// one line); body lines are at most 76 characters (quoted-printable soft line breaks).
// Errors: INVALID_ARGUMENT "header <Name>: <why>" when a value holds CR or LF (header injection) or
// another control character, is required and empty, holds non-ASCII where not allowed, or cannot
// be folded into lines of at most 998 characters; INVALID_ARGUMENT "header <Name>: ..." for a bad
// or reserved extra header name; INVALID_ARGUMENT "text_body: not valid UTF-8" (also for the
// subject, named "header Subject"). Pure and thread-safe.
absl::StatusOr<std::string> RenderRfc5322(const MailMessage& message);

// The two RFC 8058 header fields for one-click unsubscribe, to append to extra_headers:
//   List-Unsubscribe: <https_url>            (or "<https_url>, <mailto:address>" when mailto is
//                                             given: an address, with or without "mailto:")
//   List-Unsubscribe-Post: List-Unsubscribe=One-Click
// RFC 8058 also requires a DKIM signature covering both fields; that is the sending MTA's job.
// Errors: INVALID_ARGUMENT "https_url: ..." unless it starts with "https://" and is printable ASCII
// without spaces, '<' or '>'; INVALID_ARGUMENT "mailto: ..." likewise.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListUnsubscribeHeaders(
    std::string_view https_url, std::string_view mailto = "");

}  // namespace assent::mail
