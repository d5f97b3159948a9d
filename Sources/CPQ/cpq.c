#include "cpq.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Tests: AIMON_TEST_NO_LIBRARY names libraries to take for missing (the error a system without them gives).
static void *open_library(const char *soname) {
    const char *missing = getenv("AIMON_TEST_NO_LIBRARY");
    if (missing != NULL && strstr(missing, soname) != NULL) return NULL;
    return dlopen(soname, RTLD_NOW | RTLD_LOCAL);
}

/// Why `soname` did not open, as dlerror() says it ("libpq.so.5: cannot open shared object file...").
static void open_error(const char *soname, char *out, size_t size) {
    const char *missing = getenv("AIMON_TEST_NO_LIBRARY");
    if (missing != NULL && strstr(missing, soname) != NULL) {
        snprintf(out, size, "%s: cannot open shared object file: No such file or directory (AIMON_TEST_NO_LIBRARY)", soname);
    } else {
        snprintf(out, size, "%s", dlerror());
    }
}

static struct {
    PGconn *(*connectdbParams)(const char *const *, const char *const *, int);
    int (*status)(const PGconn *);
    char *(*errorMessage)(const PGconn *);
    void (*finish)(PGconn *);
    PGresult *(*execParams)(PGconn *, const char *, int, const unsigned int *, const char *const *, const int *, const int *, int);
    int (*resultStatus)(const PGresult *);
    int (*ntuples)(const PGresult *);
    int (*nfields)(const PGresult *);
    int (*getisnull)(const PGresult *, int, int);
    char *(*getvalue)(const PGresult *, int, int);
    void (*clear)(PGresult *);
} api;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char error[512];

static void load(void) {
    void *lib = open_library("libpq.so.5");
    if (lib == NULL) { open_error("libpq.so.5", error, sizeof error); return; }
#define LOAD(field, name) \
    if ((*(void **)&api.field = dlsym(lib, name)) == NULL && error[0] == 0) snprintf(error, sizeof error, "%s: %s", name, dlerror())
    LOAD(connectdbParams, "PQconnectdbParams");
    LOAD(status, "PQstatus");
    LOAD(errorMessage, "PQerrorMessage");
    LOAD(finish, "PQfinish");
    LOAD(execParams, "PQexecParams");
    LOAD(resultStatus, "PQresultStatus");
    LOAD(ntuples, "PQntuples");
    LOAD(nfields, "PQnfields");
    LOAD(getisnull, "PQgetisnull");
    LOAD(getvalue, "PQgetvalue");
    LOAD(clear, "PQclear");
#undef LOAD
}

const char *cpq_load(void) {
    pthread_once(&once, load);
    return error[0] ? error : NULL;
}

// A connection exists only if libpq was loaded: the calls on one assume it.
PGconn *cpq_connectdbParams(const char *const *keywords, const char *const *values, int expandDBName) {
    return cpq_load() == NULL ? api.connectdbParams(keywords, values, expandDBName) : NULL;
}
int cpq_status(const PGconn *conn) { return api.status(conn); }
const char *cpq_errorMessage(const PGconn *conn) { return api.errorMessage(conn); }
void cpq_finish(PGconn *conn) { if (conn != NULL) api.finish(conn); }
PGresult *cpq_execParams(PGconn *conn, const char *command, int nParams, const unsigned int *paramTypes,
                         const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat) {
    return api.execParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
int cpq_resultStatus(const PGresult *res) { return api.resultStatus(res); }
int cpq_ntuples(const PGresult *res) { return api.ntuples(res); }
int cpq_nfields(const PGresult *res) { return api.nfields(res); }
int cpq_getisnull(const PGresult *res, int row, int field) { return api.getisnull(res, row, field); }
char *cpq_getvalue(const PGresult *res, int row, int field) { return api.getvalue(res, row, field); }
void cpq_clear(PGresult *res) { if (res != NULL) api.clear(res); }
