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

/// Listens on ipv4:port (e.g. "127.0.0.1") with `threads` internal polling threads (each serves
/// its share of the connections, one request at a time). Limits: `timeout` seconds of idleness per
/// connection, `connections` at once, `memory` bytes per connection (request line and headers must
/// fit: larger gets 431). NULL on failure (errno tells).
struct MHD_Daemon *cmhd_start(const char *ipv4, uint16_t port, cmhd_handler handler, void *context,
                              unsigned timeout, unsigned connections, size_t memory, unsigned threads);
/// Queues the answer; `header`/`value` (both or neither) add one header, e.g. Allow.
int cmhd_respond(struct MHD_Connection *connection, unsigned status, const char *content_type,
                 const void *body, size_t length, const char *header, const char *value);
/// A query argument of the request: "" for a key without a value (`?active`), NULL when absent.
const char *cmhd_argument(struct MHD_Connection *connection, const char *key);
/// A request header (case-insensitive name), or NULL.
const char *cmhd_header(struct MHD_Connection *connection, const char *key);
/// 1 if `password` matches a crypt(3) hash (bcrypt $2b$, yescrypt $y$, sha512-crypt $6$...),
/// compared in constant time; 0 otherwise or for an unknown method.
int cmhd_password_matches(const char *password, const char *hash);
/// 1 if libcrypt knows the hash's method and the hash is well formed.
int cmhd_hash_usable(const char *hash);
void cmhd_stop(struct MHD_Daemon *daemon);
/// Loads libmicrohttpd (once; cmhd_start does): NULL when loaded, else why not.
const char *cmhd_load(void);
/// Why libcrypt could not be loaded (then no password matches and no hash is usable), or NULL.
const char *cmhd_crypt_error(void);
#endif
