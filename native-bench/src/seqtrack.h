/*
 * Per (receiver, publisher) sequence tracking: counts unique deliveries,
 * duplicates and out-of-order arrivals with a 64-message window behind the
 * highest sequence seen. Loss is expected − unique, computed by the caller.
 */
#ifndef MQBENCH_SEQTRACK_H
#define MQBENCH_SEQTRACK_H

#include <stdint.h>

typedef struct {
  uint32_t next; /* highest seq seen + 1; 0 = nothing yet */
  uint32_t pad;
  uint64_t mask; /* bit k set: seq (next - 1 - k) was received */
} seq_slot_t;

typedef struct {
  uint64_t unique;
  uint64_t duplicates;
  uint64_t reordered; /* arrived after a higher sequence from the same publisher */
} seq_counts_t;

/** Records sequence `seq` into `slot`, updating `counts`. */
static inline void seq_record(seq_slot_t *slot, uint32_t seq, seq_counts_t *counts) {
  if (seq >= slot->next) {
    uint32_t shift = seq - slot->next + 1;
    slot->mask = shift >= 64 ? 1 : (slot->mask << shift) | 1;
    slot->next = seq + 1;
    counts->unique++;
    return;
  }
  uint32_t back = slot->next - 1 - seq;
  if (back < 64) {
    uint64_t bit = 1ull << back;
    if (slot->mask & bit) {
      counts->duplicates++;
      return;
    }
    slot->mask |= bit;
  }
  /* older than the window: assumed a late original, not a duplicate */
  counts->unique++;
  counts->reordered++;
}

#endif
