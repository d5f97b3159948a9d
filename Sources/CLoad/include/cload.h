// Loading a shared library when a part first needs it (libpq, libcurl, libmicrohttpd, libcrypt: see
// CPQ, CCurl, CMicroHTTPD), with the failure said as dlerror() says it.
#ifndef CLOAD_H
#define CLOAD_H
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// dlopen(soname), or NULL with `error` set ("libpq.so.5: cannot open shared object file...").
/// Tests: AIMON_TEST_NO_LIBRARY names libraries to take for missing (the error a system without
/// them gives).
static inline void *cload_open(const char *soname, char *error, size_t size) {
    const char *missing = getenv("AIMON_TEST_NO_LIBRARY");
    if (missing != NULL && strstr(missing, soname) != NULL) {
        snprintf(error, size, "%s: cannot open shared object file: No such file or directory (AIMON_TEST_NO_LIBRARY)", soname);
        return NULL;
    }
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) snprintf(error, size, "%s", dlerror());
    return lib;
}

/// dlsym(lib, name); the first missing symbol is said in `error`.
static inline void *cload_symbol(void *lib, const char *name, char *error, size_t size) {
    void *f = dlsym(lib, name);
    if (f == NULL && error[0] == 0) snprintf(error, size, "%s: %s", name, dlerror());
    return f;
}

#endif
