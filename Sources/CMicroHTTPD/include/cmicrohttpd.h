// libmicrohttpd for Swift: its start call is variadic (options), which Swift cannot call, and its
// access callback is called twice per request; this wraps both behind a plain handler.
#ifndef CMICROHTTPD_H
#define CMICROHTTPD_H
#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;
struct MHD_Connection;

/// One request (headers read, any body discarded): answer it with cmhd_respond; return 0 to drop
/// the connection instead.
typedef int (*cmhd_handler)(void *context, struct MHD_Connection *connection, const char *url, const char *method);

/// Listens on ipv4:port (e.g. "127.0.0.1") with an internal polling thread. Limits: `timeout`
/// seconds of idleness per connection, `connections` at once, `memory` bytes per connection (request
/// line and headers must fit: larger gets 431). NULL on failure (errno tells).
struct MHD_Daemon *cmhd_start(const char *ipv4, uint16_t port, cmhd_handler handler, void *context,
                              unsigned timeout, unsigned connections, size_t memory);
int cmhd_respond(struct MHD_Connection *connection, unsigned status, const char *content_type,
                 const void *body, size_t length, const char *allow);
/// A query argument of the request, or NULL.
const char *cmhd_argument(struct MHD_Connection *connection, const char *key);
void cmhd_stop(struct MHD_Daemon *daemon);
#endif
