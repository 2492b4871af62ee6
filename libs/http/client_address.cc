#include "http/client_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/strings.h"

namespace assent::http {
namespace {

using Bytes = std::array<uint8_t, 16>;

bool IsV4Mapped(const Bytes& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

// Parses an IPv4 or IPv6 address into the 128-bit space (IPv4 as IPv4-mapped IPv6).
std::optional<Bytes> ParseIp(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string z(text);  // inet_pton wants a NUL-terminated string
  Bytes bytes{};
  in_addr v4;
  if (inet_pton(AF_INET, z.c_str(), &v4) == 1) {
    bytes[10] = bytes[11] = 0xff;
    std::memcpy(&bytes[12], &v4, 4);
    return bytes;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, z.c_str(), &v6) == 1) {
    std::memcpy(bytes.data(), &v6, 16);
    return bytes;
  }
  return std::nullopt;
}

std::string Format(const Bytes& bytes) {
  char out[INET6_ADDRSTRLEN];
  const bool v4 = IsV4Mapped(bytes);
  if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? &bytes[12] : bytes.data(), out, sizeof(out)) ==
      nullptr) {
    return "";  // cannot happen: the buffer fits any address
  }
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.size() <= 5 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// One hop of a proxy chain: "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80", and,
// where `bare_v6` (X-Forwarded-For), "2001:db8::1". Anything else is malformed.
std::optional<Bytes> ParseNode(std::string_view node, bool bare_v6) {
  if (!node.empty() && node.front() == '[') {
    const size_t close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = node.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !AllDigits(rest.substr(1)))) return std::nullopt;
    std::optional<Bytes> ip = ParseIp(node.substr(1, close - 1));
    if (!ip.has_value() || IsV4Mapped(*ip)) return std::nullopt;  // brackets are for IPv6
    return ip;
  }
  const size_t colon = node.find(':');
  if (colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos) {
    if (!AllDigits(node.substr(colon + 1))) return std::nullopt;
    std::optional<Bytes> ip = ParseIp(node.substr(0, colon));
    if (!ip.has_value() || !IsV4Mapped(*ip)) return std::nullopt;
    return ip;
  }
  if (colon != std::string_view::npos && !bare_v6) return std::nullopt;
  return ParseIp(node);
}

bool IsTchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The for= value of each element of an RFC 7239 Forwarded header, unquoted ("" when an element
// has none), or nullopt when the header does not follow the grammar.
std::optional<std::vector<std::string>> ForwardedFors(std::string_view h) {
  std::vector<std::string> fors;
  std::string current_for;
  bool element_has_pairs = false;
  bool element_has_for = false;
  size_t i = 0;
  auto skip_ows = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  while (true) {
    skip_ows();
    if (i < h.size() && h[i] != ',') {
      const size_t name_start = i;
      while (i < h.size() && IsTchar(h[i])) ++i;
      const std::string name = absl::AsciiStrToLower(Sv(h.substr(name_start, i - name_start)));
      if (name.empty() || i >= h.size() || h[i] != '=') return std::nullopt;
      ++i;
      std::string value;
      if (i < h.size() && h[i] == '"') {
        for (++i; i < h.size() && h[i] != '"'; ++i) {
          if (h[i] == '\\' && ++i >= h.size()) return std::nullopt;
          value += h[i];
        }
        if (i >= h.size()) return std::nullopt;  // unterminated quoted-string
        ++i;
      } else {
        const size_t value_start = i;
        while (i < h.size() && IsTchar(h[i])) ++i;
        value = std::string(h.substr(value_start, i - value_start));
        if (value.empty()) return std::nullopt;
      }
      if (name == "for") {
        if (element_has_for) return std::nullopt;  // at most once per element (RFC 7239 4)
        current_for = std::move(value);
        element_has_for = true;
      }
      element_has_pairs = true;
      skip_ows();
      if (i < h.size() && h[i] == ';') {
        ++i;
        continue;
      }
    }
    if (i < h.size() && h[i] != ',') return std::nullopt;
    if (element_has_pairs) fors.push_back(std::move(current_for));
    current_for.clear();
    element_has_pairs = element_has_for = false;
    if (i >= h.size()) return fors;
    ++i;  // ','
  }
}

// All values of header `name`, joined with commas in the order they arrived (RFC 9110 5.3).
std::optional<std::string> JoinedHeader(const httplib::Headers& headers, const std::string& name) {
  auto [begin, end] = headers.equal_range(name);
  if (begin == end) return std::nullopt;
  std::vector<absl::string_view> values;
  for (auto it = begin; it != end; ++it) values.push_back(it->second);
  return absl::StrJoin(values, ",");
}

}  // namespace

absl::StatusOr<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& entries) {
  TrustedProxies trusted;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string field = absl::StrCat("trusted_proxies[", i, "]");
    const std::string_view entry = entries[i];
    const size_t slash = entry.find('/');
    std::optional<Bytes> ip = ParseIp(entry.substr(0, slash));
    if (!ip.has_value()) {
      return InvalidField(field, absl::StrCat("not an IP address or CIDR: \"", Sv(entry), "\""));
    }
    const int max_bits = IsV4Mapped(*ip) ? 32 : 128;
    int bits = max_bits;
    if (slash != std::string_view::npos) {
      const std::string_view length = entry.substr(slash + 1);
      if (!AllDigits(length) || !absl::SimpleAtoi(Sv(length), &bits) || bits > max_bits) {
        return InvalidField(
            field, absl::StrCat("prefix length must be 0 to ", max_bits, ": \"", Sv(entry), "\""));
      }
    }
    if (max_bits == 32) bits += 96;
    for (int bit = bits; bit < 128; ++bit) {
      if (((*ip)[bit / 8] >> (7 - bit % 8)) & 1) {
        return InvalidField(field, absl::StrCat("address has bits set beyond the prefix length: \"",
                                                Sv(entry), "\""));
      }
    }
    trusted.networks_.push_back(Network{*ip, bits});
  }
  return trusted;
}

bool TrustedProxies::Contains(std::string_view address) const {
  std::optional<Bytes> ip = ParseIp(address);
  if (!ip.has_value()) return false;
  for (const Network& network : networks_) {
    const int whole = network.bits / 8;
    if (std::memcmp(ip->data(), network.prefix.data(), static_cast<size_t>(whole)) != 0) continue;
    const int rest = network.bits % 8;
    const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    if (rest == 0 || ((*ip)[whole] & mask) == network.prefix[whole]) return true;
  }
  return false;
}

std::string ClientAddress(std::string_view peer, const httplib::Headers& headers,
                          const TrustedProxies& trusted) {
  std::optional<Bytes> peer_ip = ParseIp(peer);
  if (!peer_ip.has_value()) return std::string(peer);
  const std::string peer_text = Format(*peer_ip);
  if (!trusted.Contains(peer_text)) return peer_text;

  std::vector<std::string> hops;
  bool bare_v6 = false;
  if (std::optional<std::string> forwarded = JoinedHeader(headers, "Forwarded")) {
    std::optional<std::vector<std::string>> fors = ForwardedFors(*forwarded);
    if (!fors.has_value()) return peer_text;
    // A proxy may send Forwarded for proto= or host= only, and the address in X-Forwarded-For.
    if (std::any_of(fors->begin(), fors->end(), [](const std::string& f) { return !f.empty(); })) {
      hops = *std::move(fors);
    }
  }
  if (hops.empty()) {
    if (std::optional<std::string> xff = JoinedHeader(headers, "X-Forwarded-For")) {
      for (absl::string_view hop : absl::StrSplit(*xff, ',')) {
        hops.emplace_back(absl::StripAsciiWhitespace(hop));
      }
      bare_v6 = true;
    }
  }
  std::string leftmost = peer_text;
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    std::optional<Bytes> ip = ParseNode(*hop, bare_v6);
    if (!ip.has_value()) return peer_text;
    leftmost = Format(*ip);
    if (!trusted.Contains(leftmost)) return leftmost;
  }
  return leftmost;
}

}  // namespace assent::http
