// libpq for the PostgreSQL alert table, loaded (dlopen) when first needed: libpq and what it links
// (OpenSSL, Kerberos, LDAP) would otherwise be loaded by every start of the CLI, which never uses
// them. Only the calls aimon makes, with libpq's own types and values (libpq-fe.h, stable ABI).
#ifndef CPQ_H
#define CPQ_H

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

/// ConnStatusType's CONNECTION_OK, and ExecStatusType's PGRES_COMMAND_OK and PGRES_TUPLES_OK.
#define CPQ_CONNECTION_OK 0
#define CPQ_PGRES_COMMAND_OK 1
#define CPQ_PGRES_TUPLES_OK 2

/// Loads libpq (once): NULL when loaded, else why not.
const char *cpq_load(void);

/// NULL (as for out of memory) when libpq cannot be loaded: cpq_load says why.
PGconn *cpq_connectdbParams(const char *const *keywords, const char *const *values, int expandDBName);
int cpq_status(const PGconn *conn);
const char *cpq_errorMessage(const PGconn *conn);
void cpq_finish(PGconn *conn);
PGresult *cpq_execParams(PGconn *conn, const char *command, int nParams, const unsigned int *paramTypes,
                         const char *const *paramValues, const int *paramLengths, const int *paramFormats, int resultFormat);
int cpq_resultStatus(const PGresult *res);
int cpq_ntuples(const PGresult *res);
int cpq_nfields(const PGresult *res);
int cpq_getisnull(const PGresult *res, int row, int field);
char *cpq_getvalue(const PGresult *res, int row, int field);
void cpq_clear(PGresult *res);

#endif
