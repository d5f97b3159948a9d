// sched_getaffinity and CPU_COUNT need _GNU_SOURCE before any system header.
#define _GNU_SOURCE
#include <sched.h>
#include "cpu_count.h"

int aimon_affinity_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}
