#include "ccurl.h"
#include "cload.h"
#include <pthread.h>
#include <stdio.h>

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} api;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char error[512];

static void load(void) {
    void *lib = cload_open("libcurl.so.4", error, sizeof error);
    if (lib == NULL) return;
#define LOAD(field, name) *(void **)&api.field = cload_symbol(lib, name, error, sizeof error)
    LOAD(global_init, "curl_global_init");
    LOAD(easy_init, "curl_easy_init");
    LOAD(easy_cleanup, "curl_easy_cleanup");
    LOAD(easy_reset, "curl_easy_reset");
    LOAD(easy_perform, "curl_easy_perform");
    LOAD(easy_strerror, "curl_easy_strerror");
    LOAD(easy_setopt, "curl_easy_setopt");
    LOAD(easy_getinfo, "curl_easy_getinfo");
    LOAD(slist_append, "curl_slist_append");
    LOAD(slist_free_all, "curl_slist_free_all");
#undef LOAD
    if (error[0] == 0 && api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) snprintf(error, sizeof error, "curl_global_init failed");
}

const char *ccurl_load(void) {
    pthread_once(&once, load);
    return error[0] ? error : NULL;
}

// Callers load first (ccurl_load); the others assume it succeeded.
CURL *ccurl_easy_init(void) { return ccurl_load() == NULL ? api.easy_init() : NULL; }
void ccurl_easy_cleanup(CURL *c) { if (c != NULL) api.easy_cleanup(c); }
void ccurl_easy_reset(CURL *c) { api.easy_reset(c); }
CURLcode ccurl_easy_perform(CURL *c) { return api.easy_perform(c); }
const char *ccurl_easy_strerror(CURLcode code) { return api.easy_strerror(code); }
struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *text) { return api.slist_append(list, text); }
void ccurl_slist_free_all(struct curl_slist *list) { api.slist_free_all(list); }
CURLcode ccurl_setopt_long(CURL *c, CURLoption o, long v) { return api.easy_setopt(c, o, v); }
CURLcode ccurl_setopt_string(CURL *c, CURLoption o, const char *v) { return api.easy_setopt(c, o, v); }
CURLcode ccurl_setopt_pointer(CURL *c, CURLoption o, void *v) { return api.easy_setopt(c, o, v); }
CURLcode ccurl_setopt_write(CURL *c, ccurl_write_callback f) { return api.easy_setopt(c, CURLOPT_WRITEFUNCTION, f); }
CURLcode ccurl_getinfo_long(CURL *c, CURLINFO i, long *v) { return api.easy_getinfo(c, i, v); }
