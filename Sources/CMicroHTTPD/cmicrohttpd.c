#include "cmicrohttpd.h"
#include <microhttpd.h>
#include <arpa/inet.h>
#include "cload.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <crypt.h>

// libmicrohttpd (with GnuTLS under it) and libcrypt are loaded when first needed, not at every start
// of the CLI: together with libcurl and libpq they made `aimon stats` load 47 libraries, half its time.
static struct {
    struct MHD_Daemon *(*start_daemon)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *, MHD_AccessHandlerCallback, void *, ...);
    struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
    void (*destroy_response)(struct MHD_Response *);
    enum MHD_Result (*lookup_connection_value_n)(struct MHD_Connection *, enum MHD_ValueKind, const char *, size_t, const char **, size_t *);
    const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind, const char *);
    void (*stop_daemon)(struct MHD_Daemon *);
} mhd;
static char *(*crypt_r_fn)(const char *, const char *, struct crypt_data *);
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT, crypt_once = PTHREAD_ONCE_INIT;
static char mhd_error[512], crypt_error[512];

static void load_mhd(void) {
    void *lib = cload_open("libmicrohttpd.so.12", mhd_error, sizeof mhd_error);
    if (lib == NULL) return;
#define LOAD(field, name) *(void **)&mhd.field = cload_symbol(lib, name, mhd_error, sizeof mhd_error)
    LOAD(start_daemon, "MHD_start_daemon");
    LOAD(create_response_from_buffer, "MHD_create_response_from_buffer");
    LOAD(add_response_header, "MHD_add_response_header");
    LOAD(queue_response, "MHD_queue_response");
    LOAD(destroy_response, "MHD_destroy_response");
    LOAD(lookup_connection_value_n, "MHD_lookup_connection_value_n");
    LOAD(lookup_connection_value, "MHD_lookup_connection_value");
    LOAD(stop_daemon, "MHD_stop_daemon");
#undef LOAD
}

static void load_crypt(void) {
    void *lib = cload_open("libcrypt.so.1", crypt_error, sizeof crypt_error);
    if (lib == NULL) return;
    *(void **)&crypt_r_fn = cload_symbol(lib, "crypt_r", crypt_error, sizeof crypt_error);
}

const char *cmhd_load(void) {
    pthread_once(&mhd_once, load_mhd);
    return mhd_error[0] ? mhd_error : NULL;
}

static int crypt_loaded(void) {
    pthread_once(&crypt_once, load_crypt);
    return crypt_error[0] == 0;
}

const char *cmhd_crypt_error(void) { return crypt_loaded() ? NULL : crypt_error; }

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
    if (cmhd_load() != NULL) { errno = ELIBACC; return NULL; }
    struct cmhd_target *t = malloc(sizeof *t);  // lives as long as the process (one server)
    t->handler = handler;
    t->context = context;
    return mhd.start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, port, NULL, NULL, access_cb, t,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                            MHD_OPTION_CONNECTION_LIMIT, connections,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory,
                            MHD_OPTION_END);
}

int cmhd_respond(struct MHD_Connection *connection, unsigned status, const char *content_type,
                 const void *body, size_t length, const char *header, const char *value) {
    struct MHD_Response *r = mhd.create_response_from_buffer(length, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) return 0;
    mhd.add_response_header(r, "Content-Type", content_type);
    mhd.add_response_header(r, "Cache-Control", "no-store");
    if (header != NULL && value != NULL) mhd.add_response_header(r, header, value);
    enum MHD_Result ok = mhd.queue_response(connection, status, r);
    mhd.destroy_response(r);
    return ok == MHD_YES;
}

const char *cmhd_argument(struct MHD_Connection *connection, const char *key) {
    const char *value = NULL;
    size_t length = 0;
    if (mhd.lookup_connection_value_n(connection, MHD_GET_ARGUMENT_KIND, key, strlen(key), &value, &length) != MHD_YES) return NULL;
    return value != NULL ? value : "";  // `?active`: a key without a value
}

void cmhd_stop(struct MHD_Daemon *daemon) { mhd.stop_daemon(daemon); }

const char *cmhd_header(struct MHD_Connection *connection, const char *key) {
    return mhd.lookup_connection_value(connection, MHD_HEADER_KIND, key);
}

int cmhd_password_matches(const char *password, const char *hash) {
    if (!crypt_loaded()) return 0;
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *out = crypt_r_fn(password, hash, &data);
    if (out == NULL || out[0] == '*') return 0;  // an unknown or invalid hash method
    size_t n = strlen(hash);
    if (strlen(out) != n) return 0;
    unsigned char diff = 0;  // the same time whatever the first difference
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(out[i] ^ hash[i]);
    return diff == 0;
}

int cmhd_hash_usable(const char *hash) {
    if (!crypt_loaded()) return 0;
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *out = crypt_r_fn("", hash, &data);
    return out != NULL && out[0] != '*' && strlen(out) == strlen(hash);
}
