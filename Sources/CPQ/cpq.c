#include "cpq.h"
#include "cload.h"
#include <pthread.h>
#include <stdio.h>

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
    void *lib = cload_open("libpq.so.5", error, sizeof error);
    if (lib == NULL) return;
#define LOAD(field, name) *(void **)&api.field = cload_symbol(lib, name, error, sizeof error)
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
