/* The progress line (stderr) and the JSON result line (stdout). */
#ifndef MQBENCH_REPORT_H
#define MQBENCH_REPORT_H

#include <stdint.h>

#include "procstat.h"

/** /proc samples taken at phase boundaries by main.c */
typedef struct {
  proc_sample_t broker_start, broker_connected, broker_measure_start, broker_measure_end, broker_end;
  proc_sample_t self_start, self_connected, self_measure_start, self_measure_end, self_end;
  uint64_t broker_rss_max_kb;
  long long listen_overflows_start, listen_overflows_connected;
  double host_busy_measure_start, host_busy_measure_end; /* seconds, all cores */
} report_samples_t;

/** what the previous progress line saw, for per-interval rates */
typedef struct {
  int64_t t;
  uint64_t sent, received, acked, connected;
  double self_cpu, broker_cpu;
  double self_cpu_max_pct;
} progress_state_t;

void report_progress(progress_state_t *ps, const proc_sample_t *broker, const proc_sample_t *self);
/** prints the result line; returns 1 if the run is valid (no failed connection) */
int report_result(const report_samples_t *s);

#endif
