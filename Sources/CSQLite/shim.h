#ifndef AIMON_CSQLITE_SHIM_H
#define AIMON_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
