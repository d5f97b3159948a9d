#ifndef AIMON_CHIREDIS_SHIM_H
#define AIMON_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
