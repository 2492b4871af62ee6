// Who is on the other end of a request: the TCP peer, or, when the peer is a proxy we trust, the
// address that proxy says it forwarded for (RFC 7239 `Forwarded`, or `X-Forwarded-For`).
//
// Addresses are IPv4 or IPv6 (inet_pton syntax); IPv4-mapped IPv6 addresses ("::ffff:192.0.2.1",
// what a dual-stack socket reports for an IPv4 client) are treated as, and printed as, IPv4.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "httplib.h"

namespace assent::http {

// A set of networks (CIDRs such as "10.0.0.0/8", "2001:db8::/32", or single addresses). Immutable
// once parsed, so it may be read from any number of threads.
class TrustedProxies {
 public:
  // Trusts nobody.
  TrustedProxies() = default;

  // Parses `entries`. INVALID_ARGUMENT "trusted_proxies[i]: <why>" for the first entry that is not
  // an address or a CIDR, has a prefix length out of range, or has bits set beyond its prefix.
  static absl::StatusOr<TrustedProxies> Parse(const std::vector<std::string>& entries);

  // Whether `address` (inet_pton syntax) is in one of the networks; false if it does not parse.
  [[nodiscard]] bool Contains(std::string_view address) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    std::array<uint8_t, 16> prefix;  // IPv4 as IPv4-mapped IPv6
    int bits;                        // prefix length in the 128-bit space
  };
  std::vector<Network> networks_;
};

// The client's address for a request that arrived from TCP peer `peer` (httplib's
// `req.remote_addr`) with `headers`:
//  - the peer itself (normalized), unless the peer is in `trusted`;
//  - when it is, the proxy headers are walked from the right (the entry our proxy appended) to
//    the left, skipping entries that are themselves trusted proxies, and the first untrusted
//    entry is the client. `Forwarded` (RFC 7239: for=, quoted, "[v6]:port", ports ignored) is
//    used when it names any address, otherwise `X-Forwarded-For` (comma-separated, bare or
//    bracketed IPv6, optional ports; several headers are joined in order). When every entry is
//    trusted, the leftmost one is the client.
//  - the peer again when the header it would use is absent or an entry on the walk is malformed
//    (not an address, "unknown", an obfuscated identifier), so a confused chain never lets a
//    client choose its address.
// Headers from an untrusted peer are ignored: anyone can send X-Forwarded-For. Never fails; a peer
// that does not parse is returned as given.
[[nodiscard]] std::string ClientAddress(std::string_view peer, const httplib::Headers& headers,
                                        const TrustedProxies& trusted);

}  // namespace assent::http
