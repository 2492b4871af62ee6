#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "common/hex.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mail/message.h"
#include "mail/spool.h"
#include "testing/temp_dir.h"

namespace assent::mail {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- message -----------------------------------------------------------------------------------

struct Parsed {
  std::vector<std::string> header_lines;       // physical lines, without CRLF
  std::map<std::string, std::string> headers;  // unfolded values (the first of each name)
  std::vector<std::string> names;              // in order
  std::string body;                            // raw, with CRLF
};

// Splits a rendered message; fails the test when a line does not end in CRLF or is too long.
Parsed ParseMessage(const std::string& text) {
  Parsed p;
  size_t pos = 0;
  bool in_headers = true;
  while (pos < text.size()) {
    size_t crlf = text.find("\r\n", pos);
    if (crlf == std::string::npos) {
      ADD_FAILURE() << "text does not end in CRLF: " << text.substr(pos);
      break;
    }
    std::string line = text.substr(pos, crlf - pos);
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << "bare CR or LF in: " << line;
    EXPECT_LE(line.size(), 998u) << line;
    pos = crlf + 2;
    if (!in_headers) {
      EXPECT_LE(line.size(), 76u) << "body line: " << line;
      p.body += line + "\r\n";
      continue;
    }
    if (line.empty()) {
      in_headers = false;
      continue;
    }
    p.header_lines.push_back(line);
    if (line[0] == ' ' || line[0] == '\t') {
      EXPECT_FALSE(p.names.empty()) << "continuation without a field: " << line;
      EXPECT_NE(line.find_first_not_of(" \t"), std::string::npos) << "whitespace-only line";
      if (!p.names.empty()) p.headers[p.names.back()] += line;  // unfolding removes the CRLF only
      continue;
    }
    size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    p.names.push_back(name);
    p.headers.emplace(name, value);
  }
  EXPECT_FALSE(in_headers) << "no empty line between header and body";
  return p;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 2045 encoders use upper case
}

// Quoted-printable decoding (RFC 2045 6.7); hard line breaks become "\n".
std::string DecodeQp(const std::string& body) {
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t crlf = body.find("\r\n", pos);
    std::string line = body.substr(pos, crlf - pos);
    pos = crlf + 2;
    // Whitespace ending an encoded line would be lost in transport (RFC 2045 6.7 rule 3); before a
    // soft break's '=' it is fine.
    EXPECT_TRUE(line.empty() || (line.back() != ' ' && line.back() != '\t'))
        << "trailing whitespace in: " << line;
    bool soft = !line.empty() && line.back() == '=';
    if (soft) line.pop_back();
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = line[i];
      if (c == '=') {
        int hi = i + 1 < line.size() ? HexValue(line[i + 1]) : -1;
        int lo = i + 2 < line.size() ? HexValue(line[i + 2]) : -1;
        EXPECT_TRUE(hi >= 0 && lo >= 0) << "bad escape in: " << line;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
      EXPECT_TRUE((c >= 33 && c <= 126) || c == ' ' || c == '\t') << "raw byte " << int(c);
      out.push_back(static_cast<char>(c));
    }
    if (!soft) out += "\n";
  }
  return out;
}

// Decodes a header value made of RFC 2047 "B" encoded words separated by whitespace.
std::string DecodeEncodedWords(const std::string& value) {
  std::istringstream words(value);
  std::string word;
  std::string out;
  while (words >> word) {
    EXPECT_LE(word.size(), 75u);
    const std::string prefix = "=?UTF-8?B?";
    if (word.rfind(prefix, 0) != 0 || word.size() < prefix.size() + 2 ||
        word.substr(word.size() - 2) != "?=") {
      ADD_FAILURE() << "not an encoded word: " << word;
      return out;
    }
    std::string decoded;
    EXPECT_TRUE(absl::Base64Unescape(
        Sv(std::string_view(word).substr(prefix.size(), word.size() - prefix.size() - 2)),
        &decoded));
    out += decoded;
  }
  return out;
}

MailMessage BasicMessage() {
  MailMessage m;
  m.from = "Acme News <news@acme.example>";
  m.to = "alice@example.com";
  m.subject = "Please confirm your subscription";
  m.message_id = "confirm-123@acme.example";
  m.date = absl::FromCivil(absl::CivilSecond(2026, 11, 30, 1, 45, 0), absl::UTCTimeZone());
  m.text_body = "Hello Alice,\n\nplease confirm.\n";
  return m;
}

Parsed RenderAndParse(const MailMessage& m) {
  absl::StatusOr<std::string> text = RenderRfc5322(m);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? ParseMessage(*text) : Parsed{};
}

TEST(RenderRfc5322Test, WritesTheHeadersAndABodyThatDecodesBack) {
  Parsed p = RenderAndParse(BasicMessage());
  EXPECT_THAT(p.names,
              ::testing::ElementsAre("Date", "From", "To", "Subject", "Message-ID", "MIME-Version",
                                     "Content-Type", "Content-Transfer-Encoding"));
  EXPECT_EQ(p.headers["Date"], "Mon, 30 Nov 2026 01:45:00 +0000");
  EXPECT_EQ(p.headers["From"], "Acme News <news@acme.example>");
  EXPECT_EQ(p.headers["To"], "alice@example.com");
  EXPECT_EQ(p.headers["Subject"], "Please confirm your subscription");
  EXPECT_EQ(p.headers["Message-ID"], "<confirm-123@acme.example>");
  EXPECT_EQ(p.headers["MIME-Version"], "1.0");
  EXPECT_EQ(p.headers["Content-Type"], "text/plain; charset=utf-8");
  EXPECT_EQ(p.headers["Content-Transfer-Encoding"], "quoted-printable");
  EXPECT_EQ(DecodeQp(p.body), "Hello Alice,\n\nplease confirm.\n");
}

TEST(RenderRfc5322Test, DateIsInUtcWithADayName) {
  MailMessage m = BasicMessage();
  m.date = absl::FromCivil(absl::CivilSecond(2027, 1, 3, 23, 5, 9), absl::UTCTimeZone());
  EXPECT_EQ(RenderAndParse(m).headers["Date"], "Sun, 03 Jan 2027 23:05:09 +0000");
  m.message_id = "<already@bracketed>";
  EXPECT_EQ(RenderAndParse(m).headers["Message-ID"], "<already@bracketed>");
}

TEST(RenderRfc5322Test, LongAndNonAsciiBodiesStayShortLinedAndDecodeBack) {
  const std::string bodies[] = {
      std::string(300, 'x') + "\n",
      "Gr\xC3\xBC\xC3\x9F"
      "e aus K\xC3\xB6ln \xE2\x82\xAC 10 = zehn \xF0\x9F\x98\x80\n",
      "trailing spaces   \nand tab\t\n.\nFrom here\n",
      std::string(100, '=') + "\n" + std::string(50, ' ') + "\n",
      "no final newline \xC3\xA9",
      "windows\r\nline\r\nendings\r\n",
      "",
  };
  for (const std::string& body : bodies) {
    MailMessage m = BasicMessage();
    m.text_body = body;
    Parsed p = RenderAndParse(m);
    std::string want = body;
    for (size_t at; (at = want.find("\r\n")) != std::string::npos;) want.erase(at, 1);
    EXPECT_EQ(DecodeQp(p.body), want);
  }
  // A long line of multi-byte characters, split by soft breaks in the middle of characters.
  MailMessage m = BasicMessage();
  for (int i = 0; i < 60; ++i) m.text_body += "\xE6\x97\xA5\xE6\x9C\xAC ";
  EXPECT_EQ(DecodeQp(RenderAndParse(m).body), m.text_body);
}

TEST(RenderRfc5322Test, LongAsciiSubjectIsFoldedAndUnfoldsBack) {
  MailMessage m = BasicMessage();
  m.subject =
      "Your weekly digest: twelve new articles about privacy, consent, preferences and how to "
      "manage the messages you receive from us";
  Parsed p = RenderAndParse(m);
  for (const std::string& line : p.header_lines) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(p.headers["Subject"], m.subject);
}

TEST(RenderRfc5322Test, NonAsciiSubjectBecomesEncodedWordsThatDecodeBack) {
  const std::string subjects[] = {
      "Best\xC3\xA4tigen Sie Ihr Abonnement",
      // Long, with 3- and 4-byte characters that must not be split across words.
      [] {
        std::string s;
        for (int i = 0; i < 30; ++i) s += "\xE3\x81\x94\xE7\xA2\xBA\xE8\xAA\x8D\xF0\x9F\x93\xA7 ";
        return s;
      }(),
      "looks like =?UTF-8?B?Zm9v?= but is plain",
  };
  for (const std::string& subject : subjects) {
    MailMessage m = BasicMessage();
    m.subject = subject;
    Parsed p = RenderAndParse(m);
    for (const std::string& line : p.header_lines) EXPECT_LE(line.size(), 78u) << line;
    EXPECT_THAT(p.headers["Subject"], StartsWith("=?UTF-8?B?"));
    std::string decoded = DecodeEncodedWords(p.headers["Subject"]);
    EXPECT_EQ(decoded, subject);
    // Every word decodes to whole UTF-8 characters on its own.
    std::istringstream words(p.headers["Subject"]);
    for (std::string word; words >> word;) {
      std::string part = DecodeEncodedWords(word);
      ASSERT_FALSE(part.empty());
      EXPECT_NE(static_cast<unsigned char>(part[0]) & 0xC0, 0x80) << "split character";
    }
  }
}

TEST(RenderRfc5322Test, RejectsCrOrLfInAnyHeaderValue) {
  auto error = [](const MailMessage& m) {
    absl::StatusOr<std::string> got = RenderRfc5322(m);
    if (got.ok()) return std::string("OK");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(got.status().message());
  };
  const std::string injection = "\r\nBcc: victim@example.com";
  MailMessage m = BasicMessage();
  m.subject += injection;
  EXPECT_EQ(error(m), "header Subject: must not contain CR or LF (header injection)");
  m = BasicMessage();
  m.subject += "\nX: y";
  EXPECT_EQ(error(m), "header Subject: must not contain CR or LF (header injection)");
  m = BasicMessage();
  m.from += injection;
  EXPECT_EQ(error(m), "header From: must not contain CR or LF (header injection)");
  m = BasicMessage();
  m.to += "\r";
  EXPECT_EQ(error(m), "header To: must not contain CR or LF (header injection)");
  m = BasicMessage();
  m.message_id += injection;
  EXPECT_THAT(error(m), StartsWith("header Message-ID: "));
  m = BasicMessage();
  m.extra_headers.push_back({"X-Campaign", "spring" + injection});
  EXPECT_EQ(error(m), "header X-Campaign: must not contain CR or LF (header injection)");
  m = BasicMessage();
  m.extra_headers.push_back({"X-Bad\r\nBcc", "x"});
  EXPECT_THAT(error(m), HasSubstr("field name must be printable ASCII"));
}

TEST(RenderRfc5322Test, RejectsOtherInvalidInput) {
  auto error = [](const MailMessage& m) {
    absl::StatusOr<std::string> got = RenderRfc5322(m);
    return got.ok() ? std::string("OK") : std::string(got.status().message());
  };
  MailMessage m = BasicMessage();
  m.extra_headers.push_back({"subject", "second subject"});
  EXPECT_THAT(error(m), StartsWith("header subject: is written by the builder"));
  m = BasicMessage();
  m.to = "";
  EXPECT_EQ(error(m), "header To: must not be empty");
  m = BasicMessage();
  m.to = "b\xC3\xBC@example.com";
  EXPECT_EQ(error(m), "header To: must be ASCII");
  m = BasicMessage();
  m.message_id = "no-at-sign";
  EXPECT_THAT(error(m), StartsWith("header Message-ID: must look like"));
  m = BasicMessage();
  m.text_body = "bad \xC3 utf-8";
  EXPECT_EQ(error(m), "text_body: not valid UTF-8");
  m = BasicMessage();
  m.subject = "bad \xED\xA0\x80 surrogate";
  EXPECT_EQ(error(m), "header Subject: not valid UTF-8");
  m = BasicMessage();
  m.date = absl::InfinitePast();
  EXPECT_THAT(error(m), StartsWith("header Date: "));
  m = BasicMessage();
  m.extra_headers.push_back({"X-Long", std::string(1000, 'a')});
  EXPECT_THAT(error(m), StartsWith("header X-Long: has a word too long"));
}

TEST(ListUnsubscribeHeadersTest, GivesTheRfc8058Pair) {
  // A one-click URL as the email sender builds it (links/token.h); its token is opaque here.
  const std::string url =
      "https://u.acme.example/u/v2.k1.YWNtZQp1CnM6Y3VzdC00MgpuZXdzbGV0dGVyCjEKMTc5ODY3NTIwMA."
      "y8IlYz-PjGDpRUnUz0XnMT2yomNcsOWrpWoIOnvX4bg";
  auto headers = ListUnsubscribeHeaders(url, "unsubscribe@acme.example");
  ASSERT_TRUE(headers.ok()) << headers.status();
  ASSERT_EQ(headers->size(), 2u);
  EXPECT_EQ((*headers)[0].first, "List-Unsubscribe");
  EXPECT_EQ((*headers)[0].second, "<" + url + ">, <mailto:unsubscribe@acme.example>");
  EXPECT_EQ((*headers)[1].first, "List-Unsubscribe-Post");
  EXPECT_EQ((*headers)[1].second, "List-Unsubscribe=One-Click");

  auto https_only = ListUnsubscribeHeaders(url);
  ASSERT_TRUE(https_only.ok());
  EXPECT_EQ((*https_only)[0].second, "<" + url + ">");
  auto with_scheme = ListUnsubscribeHeaders(url, "mailto:u@acme.example?subject=unsubscribe");
  ASSERT_TRUE(with_scheme.ok());
  EXPECT_EQ((*with_scheme)[0].second, "<" + url + ">, <mailto:u@acme.example?subject=unsubscribe>");

  // In a message: present, folded at the comma, unfolding back to the value.
  MailMessage m = BasicMessage();
  m.extra_headers = *headers;
  Parsed p = RenderAndParse(m);
  EXPECT_EQ(p.headers["List-Unsubscribe"], (*headers)[0].second);
  EXPECT_EQ(p.headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
}

TEST(ListUnsubscribeHeadersTest, RejectsNonHttpsAndUnsafeUrls) {
  auto code = [](std::string_view url, std::string_view mailto = "") {
    return ListUnsubscribeHeaders(url, mailto).status().code();
  };
  EXPECT_EQ(code("http://u.example/x"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("mailto:u@example.com"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("https://u.example/x>\r\nBcc: a@b"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("https://u.example/a b"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("https://u.example/x", "no-at-sign"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("https://u.example/x", "a@b>\r\n"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("HTTPS://u.example/x"), absl::StatusCode::kOk);
}

// --- spool -------------------------------------------------------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

TEST(SpoolDirectoryTest, WritesExactContentsAndReplacesOnRewrite) {
  testing::TempDir tmp;
  SpoolDirectory spool(tmp.Sub("spool/outgoing"));
  ASSERT_TRUE(spool.Init().ok());
  ASSERT_TRUE(spool.Init().ok()) << "Init is idempotent";

  const std::string first("From: a\r\n\r\nbody\0with nul\xFF", 25);
  absl::StatusOr<std::string> path = spool.Write("msg-001.eml", first);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, tmp.Sub("spool/outgoing/msg-001.eml"));
  EXPECT_EQ(ReadFile(*path), first);

  absl::StatusOr<std::string> again = spool.Write("msg-001.eml", "short");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *path);
  EXPECT_EQ(ReadFile(*path), "short");

  ASSERT_TRUE(spool.Write("msg-002.eml", "").ok());
  EXPECT_EQ(ReadFile(tmp.Sub("spool/outgoing/msg-002.eml")), "");
  // No temporary files left behind.
  EXPECT_THAT(ListDir(spool.dir()), ::testing::ElementsAre("msg-001.eml", "msg-002.eml"));

  struct stat st;
  ASSERT_EQ(stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SpoolDirectoryTest, RejectsBadNames) {
  testing::TempDir tmp;
  SpoolDirectory spool(tmp.Sub("spool"));
  ASSERT_TRUE(spool.Init().ok());
  for (std::string name : {std::string(""), std::string(".hidden"), std::string(".."),
                           std::string("../escape"), std::string("a/b"), std::string("a b"),
                           std::string("caf\xC3\xA9"), std::string("x\n"), std::string(201, 'a')}) {
    absl::StatusOr<std::string> got = spool.Write(name, "x");
    ASSERT_FALSE(got.ok()) << name;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(got.status().message()), StartsWith("name: ")) << name;
  }
  EXPECT_TRUE(spool.Write(std::string(200, 'a'), "x").ok());
  EXPECT_TRUE(spool.Write("A-z_0.9", "x").ok());
  EXPECT_THAT(ListDir(tmp.path()), ::testing::ElementsAre("spool"));
  EXPECT_EQ(ListDir(spool.dir()).size(), 2u);
}

TEST(SpoolDirectoryTest, IoErrorsAreUnavailableAndNameThePath) {
  testing::TempDir tmp;
  SpoolDirectory missing(tmp.Sub("never-created"));
  absl::StatusOr<std::string> got = missing.Write("m.eml", "x");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(got.status().message()),
              StartsWith("spool: " + tmp.Sub("never-created/.m.eml")));
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("No such file or directory"));

  std::ofstream(tmp.Sub("a-file")) << "x";
  SpoolDirectory on_file(tmp.Sub("a-file"));
  absl::Status init = on_file.Init();
  EXPECT_EQ(init.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(init.message()), StartsWith("spool: " + tmp.Sub("a-file")));
}

}  // namespace
}  // namespace assent::mail
