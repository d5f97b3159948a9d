// libcurl's easy interface for Swift, loaded (dlopen) when first needed: libcurl and what it links
// (GnuTLS, Kerberos, LDAP...) are most of the libraries a process would otherwise load at start, and
// only the Alertmanager sink and the benchmarks use it. curl_easy_setopt and curl_easy_getinfo are
// variadic, which Swift cannot call, so each argument type gets a typed wrapper.
#ifndef CCURL_H
#define CCURL_H
#include <curl/curl.h>

typedef size_t (*ccurl_write_callback)(char *data, size_t size, size_t count, void *context);

/// Loads libcurl and runs curl_global_init (once): NULL when ready, else why not.
const char *ccurl_load(void);

CURL *ccurl_easy_init(void);
void ccurl_easy_cleanup(CURL *c);
void ccurl_easy_reset(CURL *c);
CURLcode ccurl_easy_perform(CURL *c);
const char *ccurl_easy_strerror(CURLcode code);
struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *text);
void ccurl_slist_free_all(struct curl_slist *list);
CURLcode ccurl_setopt_long(CURL *c, CURLoption o, long v);
CURLcode ccurl_setopt_string(CURL *c, CURLoption o, const char *v);
CURLcode ccurl_setopt_pointer(CURL *c, CURLoption o, void *v);
CURLcode ccurl_setopt_write(CURL *c, ccurl_write_callback f);
CURLcode ccurl_getinfo_long(CURL *c, CURLINFO i, long *v);

#endif
