// Everything is in include/byte_scan.h (static inline); this file makes the target a C module.
#include "byte_scan.h"
