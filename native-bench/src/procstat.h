/* CPU time and resident memory of a process, read from /proc. */
#ifndef MQBENCH_PROCSTAT_H
#define MQBENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

typedef struct {
  int ok;
  double cpu_s;   /* user + system seconds, all threads */
  uint64_t rss_kb;
} proc_sample_t;

/** Samples pid (0 = this process). ok = 0 when the process is gone. */
proc_sample_t proc_sample(pid_t pid);

/** Busy CPU seconds of the whole host, all cores (/proc/stat: total - idle - iowait); -1 if unreadable. */
double proc_host_busy_s(void);

/**
 * TcpExt ListenOverflows from /proc/net/netstat (host-wide): SYNs or ACKs the
 * kernel dropped because a listener's accept queue was full. -1 if unreadable.
 */
long long proc_listen_overflows(void);

#endif
