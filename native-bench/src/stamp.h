/*
 * The first STAMP_SIZE bytes of every payload mqbench publishes, little-endian:
 *   [0,4)  run tag   (random per run: messages of an earlier run are ignored)
 *   [4,8)  publisher number
 *   [8,12) sequence number, from 0 per publisher
 *   [12,20) send time, CLOCK_MONOTONIC ns (comparable across processes on one host)
 * The rest of the payload is filler.
 */
#ifndef MQBENCH_STAMP_H
#define MQBENCH_STAMP_H

#include <stdint.h>
#include <string.h>

#define STAMP_SIZE 20

static inline void stamp_put(uint8_t *p, uint32_t tag, uint32_t pub, uint32_t seq, uint64_t ts) {
  memcpy(p, &tag, 4);
  memcpy(p + 4, &pub, 4);
  memcpy(p + 8, &seq, 4);
  memcpy(p + 12, &ts, 8);
}

typedef struct {
  uint32_t tag, pub, seq;
  uint64_t ts;
} stamp_t;

static inline void stamp_get(const uint8_t *p, stamp_t *s) {
  memcpy(&s->tag, p, 4);
  memcpy(&s->pub, p + 4, 4);
  memcpy(&s->seq, p + 8, 4);
  memcpy(&s->ts, p + 12, 8);
}

#endif
