#include "hist.h"

#include <string.h>

void hist_reset(hist_t *h) { memset(h, 0, sizeof(*h)); }

static inline int bucket_of(uint64_t v) {
  if (v < 128) return (int)v;
  int e = 63 - __builtin_clzll(v); /* >= 7 */
  int shift = e - 6;
  return 64 * (shift + 1) + (int)((v >> shift) - 64);
}

/* midpoint of a bucket */
static uint64_t value_of(int idx) {
  if (idx < 128) return (uint64_t)idx;
  int shift = idx / 64 - 1;
  uint64_t lo = (uint64_t)(64 + idx % 64) << shift;
  return lo + ((1ull << shift) >> 1);
}

void hist_record(hist_t *h, uint64_t ns) {
  h->counts[bucket_of(ns)]++;
  h->total++;
  h->sum += (double)ns;
  if (ns > h->max) h->max = ns;
}

uint64_t hist_quantile(const hist_t *h, double q) {
  if (!h->total) return 0;
  if (q >= 1.0) return h->max;
  uint64_t rank = (uint64_t)(q * (double)h->total);
  if (rank >= h->total) rank = h->total - 1;
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen > rank) {
      uint64_t v = value_of(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}
