// The wrappers are inline in include/ccurl.h; SwiftPM wants a source file in a C target.
#include "ccurl.h"
