/*
 * Log-linear latency histogram in nanoseconds: 64 linear sub-buckets per power
 * of two, so every recorded value is known to within 1.6%. Fixed size, no
 * allocation after init; recording is a few instructions.
 */
#ifndef MQBENCH_HIST_H
#define MQBENCH_HIST_H

#include <stdint.h>

#define HIST_BUCKETS 3776

typedef struct {
  uint64_t counts[HIST_BUCKETS];
  uint64_t total;
  uint64_t max;
  double sum;
} hist_t;

void hist_reset(hist_t *h);
void hist_record(hist_t *h, uint64_t ns);
/** value (ns) at quantile q in [0,1]; 0 when empty */
uint64_t hist_quantile(const hist_t *h, double q);

#endif
