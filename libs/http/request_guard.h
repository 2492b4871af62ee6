// Internal to assent_http (server.cc): plain-text error bodies, and the requests whose bodies
// Debian's cpp-httplib 0.11.4 would mishandle, answered before it reads them.
#pragma once

#include <string>

#include "httplib.h"

namespace assent::http::internal {

inline constexpr char kTextPlain[] = "text/plain; charset=utf-8";

// "404 Not Found\n" and the like: what an error response without a body of its own says.
std::string ErrorBody(int status);

// The status to refuse `req` with before its body is read, or 0 to serve it. httplib reads a
// chunked or compressed body without any bound (411, 415), a POST without Content-Length until
// the client closes the connection (411), and leaves the body of a GET, HEAD or OPTIONS unread to
// be parsed as the next request, a way to smuggle requests past a proxy (400, as is a malformed or
// repeated Content-Length).
int UnservableBody(const httplib::Request& req);

// Answers `status` with ErrorBody(status) and "Connection: close", and has httplib close the
// connection once the response is written (except after HEAD, which has no body to write), so
// bytes of a body nobody read are never taken for a request.
void RejectAndClose(httplib::Response& res, int status);

}  // namespace assent::http::internal
