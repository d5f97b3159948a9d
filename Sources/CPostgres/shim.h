#ifndef AIMON_CPOSTGRES_SHIM_H
#define AIMON_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
