// The helpers are inline in include/cload.h; SwiftPM wants a source file in a C target.
#include "cload.h"
