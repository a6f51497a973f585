/*
 * Shared state of one mqbench run. Single thread: everything here is touched
 * only by the event loop in main.c and the handlers it calls.
 */
#ifndef MQBENCH_BENCH_H
#define MQBENCH_BENCH_H

#include <stdint.h>

#include "hist.h"
#include "options.h"
#include "seqtrack.h"

typedef enum { ROLE_SUB, ROLE_PUB, ROLE_IDLE } role_t;

typedef enum {
  CS_NEW,        /* not started */
  CS_CONNECTING, /* TCP connect in progress */
  CS_CONNACK,    /* CONNECT sent */
  CS_SUBACK,     /* SUBSCRIBE sent */
  CS_READY,
  CS_CLOSED,     /* closed or failed; fd = -1 */
} conn_state_t;

/*
 * One client connection: ~80 bytes when idle (no buffers are held while
 * nothing is pending). Owned by the conns array for the whole run.
 */
typedef struct conn {
  int fd;
  uint32_t index;      /* position within its role */
  uint8_t role;        /* role_t */
  uint8_t state;       /* conn_state_t */
  uint8_t want_out;    /* EPOLLOUT registered: the socket was full */
  uint8_t dirty;       /* queued in the dirty list for this iteration's flush */
  uint16_t next_pid;   /* publisher: next packet id */
  uint16_t inflight;   /* publisher: QoS 1/2 messages awaiting PUBACK / PUBCOMP */
  uint32_t seq;        /* publisher: next sequence number = messages sent */
  uint32_t e2e_hi;     /* publisher: highest sequence delivered to a subscriber of this process + 1 */
  int64_t e2e_t;       /* publisher: when e2e_hi last advanced (ns) */
  uint32_t pend_len;   /* bytes of an incomplete inbound packet kept in pend */
  uint32_t wlen, woff, wcap;
  uint8_t *pend;
  uint8_t *wbuf;
  int64_t last_tx;     /* ns, monotonic: last time bytes were queued (keepalive) */
} conn_t;

/** an end-to-end window with no delivery for this long is written off as lost */
#define E2E_STALL_NS 1000000000LL

typedef enum {
  PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_HOLD, PH_DISCONNECT, PH_DONE,
} phase_t;

typedef struct {
  uint64_t sent, acked, received, sent_window, acked_window, recv_window;
  uint64_t stale;          /* deliveries from an earlier run (other run tag) */
  uint64_t foreign;        /* deliveries not from this run's publishers */
  uint64_t malformed;      /* unparsable packets or payloads */
  uint64_t pub_errors;     /* v5 PUBACK/PUBREC with a failure reason code */
  uint64_t connect_ok, connect_failed, closed_by_broker, pings;
  uint64_t e2e_timeouts;   /* end-to-end windows given up after E2E_STALL_NS without a delivery */
} counters_t;

typedef struct {
  options_t opt;
  int ep;
  conn_t *conns;           /* subs, then pubs, then idle connections */
  int nconns;
  conn_t *subs, *pubs, *idle;
  int nsubs, npubs, nidle;

  /* publishing: per-publisher encoded head (fixed header + topic) */
  uint8_t *heads;
  uint32_t *head_off;
  uint16_t *head_len;
  uint8_t *filler;
  uint32_t run_tag;
  double issued;           /* paced mode: messages issued since publishing began */
  int rr;                  /* paced mode: next publisher to try */

  /* delivery tracking */
  seq_slot_t *slots;       /* nsinks * sink_slots */
  int nsinks, sink_slots;
  uint64_t receivers_per_msg;
  int e2e;                 /* publishers also wait for delivery to this process's subscribers */
  seq_counts_t seq;
  hist_t lat;              /* latency of messages sent inside the measurement window */
  /* publish -> PUBACK (QoS 1) / PUBCOMP (QoS 2): the send time of each packet id in flight, in
   * --window slots per publisher (slot = packet id % window, the id kept to reject a collision) */
  int64_t *ack_ts;         /* npubs * window; 0 = free; NULL when not measured */
  uint16_t *ack_pid;
  hist_t ack_lat;          /* of messages sent inside the measurement window */
  double iv_lat_sum;       /* progress-interval latency, all phases */
  uint64_t iv_lat_n, iv_lat_max;

  counters_t n;
  phase_t phase;
  int64_t now;             /* ns, monotonic, refreshed once per loop iteration / read */
  int64_t t_start, t_connect_start, t_connected, t_pub_start, t_measure_start, t_measure_end;
  int64_t t_drain_start, t_hold_end, t_last_recv;
  int handshakes;          /* connections between connect() and READY */
  int next_connect;        /* next conns[] index to start */
  int ready;
  int interrupted;

  conn_t **dirty;
  int ndirty;
  uint8_t *rbuf;
  uint32_t rcap;
} bench_t;

extern bench_t B;

#include <time.h>
/** CLOCK_MONOTONIC in ns (vDSO: ~20 ns) */
static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* conn.c */
void conn_start(conn_t *c);
void conn_on_event(conn_t *c, uint32_t events);
uint8_t *conn_reserve(conn_t *c, uint32_t n);
void conn_commit(conn_t *c, uint32_t n);
void conn_flush(conn_t *c);
void conn_flush_dirty(void);
void conn_close(conn_t *c, int failed);
const char *conn_client_id(const conn_t *c, char *buf, int cap);

/* proto.c */
void proto_on_connected(conn_t *c);
/** handles one complete packet; returns -1 if the connection must be closed */
int proto_on_packet(conn_t *c, uint8_t header, const uint8_t *body, uint32_t len);
void proto_publish(conn_t *p);
int proto_pub_can_send(conn_t *p);
void proto_build_heads(void);
void proto_ping_idle(int64_t older_than);

#endif
