#include "cmicrohttpd.h"
#include <microhttpd.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <crypt.h>

struct cmhd_target { cmhd_handler handler; void *context; };
static int first_call;

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    (void)version; (void)upload_data;
    if (*con_cls == NULL) { *con_cls = &first_call; return MHD_YES; }  // headers read: wait for the body
    if (*upload_data_size != 0) { *upload_data_size = 0; return MHD_YES; }  // a body is discarded
    struct cmhd_target *t = cls;
    return t->handler(t->context, connection, url, method) ? MHD_YES : MHD_NO;
}

struct MHD_Daemon *cmhd_start(const char *ipv4, uint16_t port, cmhd_handler handler, void *context,
                              unsigned timeout, unsigned connections, size_t memory, unsigned threads) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, ipv4, &addr.sin_addr) != 1) { errno = EINVAL; return NULL; }
    struct cmhd_target *t = malloc(sizeof *t);  // lives as long as the process (one server)
    t->handler = handler;
    t->context = context;
    return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, port, NULL, NULL, access_cb, t,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                            MHD_OPTION_CONNECTION_LIMIT, connections,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory,
                            MHD_OPTION_END);
}

int cmhd_respond(struct MHD_Connection *connection, unsigned status, const char *content_type,
                 const void *body, size_t length, const char *header, const char *value) {
    struct MHD_Response *r = MHD_create_response_from_buffer(length, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return 0;
    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (header != NULL && value != NULL) MHD_add_response_header(r, header, value);
    enum MHD_Result ok = MHD_queue_response(connection, status, r);
    MHD_destroy_response(r);
    return ok == MHD_YES;
}

const char *cmhd_argument(struct MHD_Connection *connection, const char *key) {
    const char *value = NULL;
    size_t length = 0;
    if (MHD_lookup_connection_value_n(connection, MHD_GET_ARGUMENT_KIND, key, strlen(key), &value, &length) != MHD_YES) return NULL;
    return value != NULL ? value : "";  // `?active`: a key without a value
}

void cmhd_stop(struct MHD_Daemon *daemon) { MHD_stop_daemon(daemon); }

const char *cmhd_header(struct MHD_Connection *connection, const char *key) {
    return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, key);
}

int cmhd_password_matches(const char *password, const char *hash) {
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *out = crypt_r(password, hash, &data);
    if (out == NULL || out[0] == '*') return 0;  // an unknown or invalid hash method
    size_t n = strlen(hash);
    if (strlen(out) != n) return 0;
    unsigned char diff = 0;  // the same time whatever the first difference
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(out[i] ^ hash[i]);
    return diff == 0;
}

int cmhd_hash_usable(const char *hash) {
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *out = crypt_r("", hash, &data);
    return out != NULL && out[0] != '*' && strlen(out) == strlen(hash);
}
