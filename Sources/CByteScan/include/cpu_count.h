// The CPUs this process may run on (sched_getaffinity(2), a GNU extension that Glibc's Swift module
// leaves out): how many fold workers ingest starts.
#ifndef AIMON_CPU_COUNT_H
#define AIMON_CPU_COUNT_H

/// CPUs in this process's affinity mask; 0 when it cannot be read.
int aimon_affinity_cpus(void);

#endif
