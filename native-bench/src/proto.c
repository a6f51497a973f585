/*
 * MQTT behaviour of the swarm: handshakes, acks, publishing, and what each
 * delivery tells about loss, order and latency. Called from: the event loop
 * (conn.c on reads, main.c on publishing steps and timers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mqtt.h"
#include "stamp.h"

static const char *first_segment(const char *topic, char *buf, size_t cap) {
  size_t n = strcspn(topic, "/");
  if (n >= cap) n = cap - 1;
  memcpy(buf, topic, n);
  buf[n] = 0;
  return buf;
}

/* The subscription filter of a subscriber or (with --conn-sub) an idle connection. */
static const char *sub_filter(const conn_t *c, char *buf, size_t cap) {
  const options_t *o = &B.opt;
  unsigned id = (unsigned)(o->id_base + c->index);
  if (c->role == ROLE_IDLE) {
    snprintf(buf, cap, "conns/%u/cmd", id);
    return buf;
  }
  if (o->scenario == SC_P2P) {
    snprintf(buf, cap, "p2p/%u", id);
    return buf;
  }
  if (o->filter) return o->filter;
  char seg[64];
  switch (o->scenario) {
    case SC_FANOUT: return "city/broadcast";
    case SC_SHARED:
      snprintf(buf, cap, "$share/ingest/%s/#", first_segment(o->topic_prefix, seg, sizeof seg));
      return buf;
    default: snprintf(buf, cap, "%s/#", o->topic_prefix); return buf;
  }
}

static void pub_topic(unsigned i, char *buf, size_t cap) {
  const options_t *o = &B.opt;
  unsigned id = (unsigned)o->id_base + i;
  switch (o->scenario) {
    case SC_FANOUT: snprintf(buf, cap, "%s", o->filter ? o->filter : "city/broadcast"); break;
    case SC_P2P: snprintf(buf, cap, "p2p/%u", id); break;
    default: snprintf(buf, cap, "%s/%u/%u/status", o->topic_prefix, id % (unsigned)o->zones, id);
  }
}

void proto_build_heads(void) {
  const options_t *o = &B.opt;
  size_t cap = 4096, used = 0;
  B.heads = malloc(cap);
  B.head_off = calloc((size_t)B.npubs + 1, sizeof *B.head_off);
  B.head_len = calloc((size_t)B.npubs + 1, sizeof *B.head_len);
  for (int i = 0; i < B.npubs; i++) {
    char topic[512];
    pub_topic((unsigned)i, topic, sizeof topic);
    if (used + 8 + strlen(topic) > cap) {
      cap *= 2;
      B.heads = realloc(B.heads, cap);
    }
    size_t n = mqtt_publish_head(B.heads + used, o->version, o->qos, topic, (size_t)o->size);
    B.head_off[i] = (uint32_t)used;
    B.head_len[i] = (uint16_t)n;
    used += n;
  }
  B.filler = malloc((size_t)o->size);
  memset(B.filler, 'x', (size_t)o->size);
}

static void mark_ready(conn_t *c) {
  c->state = CS_READY;
  B.handshakes--;
  B.ready++;
  B.n.connect_ok++;
}

void proto_on_connected(conn_t *c) {
  const options_t *o = &B.opt;
  char id[128];
  conn_client_id(c, id, sizeof id);
  /* --persistent-subs: a persistent subscriber among clean-session publishers */
  int clean = o->clean && !(o->persistent_subs && c->role == ROLE_SUB);
  uint8_t *w = conn_reserve(c, MQTT_SMALL_MAX);
  conn_commit(c, (uint32_t)mqtt_connect(w, o->version, id, clean, (uint16_t)o->keepalive,
                                        clean ? 0 : 3600));
  c->state = CS_CONNACK;
}

static int report_refusal(const conn_t *c, const char *what, int code) {
  static int reported;
  if (!reported++) fprintf(stderr, "mqbench: %s refused, reason 0x%02x (connection %d)\n", what, code, (int)c->index);
  return -1;
}

static int on_connack(conn_t *c, const uint8_t *body, uint32_t len) {
  if (c->state != CS_CONNACK || len < 2) return -1;
  if (body[1] != 0) return report_refusal(c, "CONNECT", body[1]);
  if (c->role == ROLE_SUB || (c->role == ROLE_IDLE && B.opt.conn_sub)) {
    char buf[512];
    const char *filter = sub_filter(c, buf, sizeof buf);
    uint8_t *w = conn_reserve(c, MQTT_SMALL_MAX);
    conn_commit(c, (uint32_t)mqtt_subscribe(w, B.opt.version, 1, filter, B.opt.sub_qos));
    c->state = CS_SUBACK;
  } else {
    mark_ready(c);
  }
  return 0;
}

static int on_suback(conn_t *c, const uint8_t *body, uint32_t len) {
  if (c->state != CS_SUBACK || len < 3) return -1;
  if (body[len - 1] >= 0x80) return report_refusal(c, "SUBSCRIBE", body[len - 1]);
  mark_ready(c);
  return 0;
}

static void send_ack(conn_t *c, int type, uint16_t pid) {
  conn_commit(c, (uint32_t)mqtt_ack(conn_reserve(c, 4), type, pid));
}

/* Whether a message sent at `ts` counts in the measurement (latency histograms). */
static int sent_in_window(int64_t ts) {
  return B.t_measure_start && ts >= B.t_measure_start && (!B.t_measure_end || ts < B.t_measure_end);
}

/* Accounts one delivery of this run: sequence, window counters, latency. */
static void record_delivery(const conn_t *c, const stamp_t *s) {
  const options_t *o = &B.opt;
  if (s->pub >= (uint32_t)B.npubs) {
    B.n.foreign++;
    return;
  }
  int sink = o->scenario == SC_SHARED ? 0 : (int)c->index;
  uint32_t slot = s->pub;
  if (o->scenario == SC_P2P) {
    if (s->pub != c->index) {
      B.n.foreign++;
      return;
    }
    slot = 0;
  }
  seq_record(&B.slots[(size_t)sink * (size_t)B.sink_slots + slot], s->seq, &B.seq);
  conn_t *p = &B.pubs[s->pub];
  if (s->seq >= p->e2e_hi) {
    p->e2e_hi = s->seq + 1;
    p->e2e_t = B.now;
  }
  B.n.received++;
  B.t_last_recv = B.now;
  if (B.phase == PH_MEASURE) B.n.recv_window++;
  uint64_t lat = B.now > (int64_t)s->ts ? (uint64_t)(B.now - (int64_t)s->ts) : 0;
  B.iv_lat_sum += (double)lat;
  B.iv_lat_n++;
  if (lat > B.iv_lat_max) B.iv_lat_max = lat;
  if (sent_in_window((int64_t)s->ts)) hist_record(&B.lat, lat);
}

static int on_publish(conn_t *c, uint8_t header, const uint8_t *body, uint32_t len) {
  mqtt_publish_t m;
  if (mqtt_publish_parse(header & 0x0f, body, len, B.opt.version, &m) < 0) return -1;
  if (m.qos == 1) send_ack(c, MQTT_PUBACK, m.pid);
  else if (m.qos == 2) send_ack(c, MQTT_PUBREC, m.pid);
  if (m.payload_len < STAMP_SIZE) {
    B.n.malformed++;
    return 0;
  }
  stamp_t s;
  stamp_get(m.payload, &s);
  if (s.tag != B.run_tag) B.n.stale++;
  else record_delivery(c, &s);
  return 0;
}

/* Publisher p sent packet id `pid` now: remember when, for its PUBACK / PUBCOMP. */
static void ack_stamp(const conn_t *p, uint16_t pid) {
  size_t slot = (size_t)p->index * (size_t)B.opt.window + pid % (uint32_t)B.opt.window;
  B.ack_ts[slot] = B.now;
  B.ack_pid[slot] = pid;
}

/* The flow of `pid` ended (PUBACK, PUBCOMP, refused PUBREC): publish -> ack latency. */
static void ack_latency(const conn_t *p, uint16_t pid) {
  if (!B.ack_ts || p->role != ROLE_PUB) return;
  size_t slot = (size_t)p->index * (size_t)B.opt.window + pid % (uint32_t)B.opt.window;
  int64_t ts = B.ack_ts[slot];
  if (!ts || B.ack_pid[slot] != pid) return; /* slot reused: out-of-order acks or packet id wrap */
  B.ack_ts[slot] = 0;
  if (sent_in_window(ts)) hist_record(&B.ack_lat, B.now > ts ? (uint64_t)(B.now - ts) : 0);
}

/* PUBACK or PUBCOMP: the publisher's slot is free again. */
static void on_pub_done(conn_t *c, const uint8_t *body, uint32_t len) {
  if (len >= 3 && body[2] >= 0x80) B.n.pub_errors++;
  if (len >= 2) ack_latency(c, (uint16_t)((body[0] << 8) | body[1]));
  if (c->inflight) c->inflight--;
  B.n.acked++;
  if (B.phase == PH_MEASURE) B.n.acked_window++;
}

int proto_on_packet(conn_t *c, uint8_t header, const uint8_t *body, uint32_t len) {
  switch (header >> 4) {
    case MQTT_PUBLISH: return on_publish(c, header, body, len);
    case MQTT_PUBACK:
    case MQTT_PUBCOMP: on_pub_done(c, body, len); return 0;
    case MQTT_PUBREC:
      if (len < 2) return -1;
      if (len >= 3 && body[2] >= 0x80) on_pub_done(c, body, len); /* v5: the flow ends here */
      else send_ack(c, MQTT_PUBREL, (uint16_t)((body[0] << 8) | body[1]));
      return 0;
    case MQTT_PUBREL:
      if (len < 2) return -1;
      send_ack(c, MQTT_PUBCOMP, (uint16_t)((body[0] << 8) | body[1]));
      return 0;
    case MQTT_CONNACK: return on_connack(c, body, len);
    case MQTT_SUBACK: return on_suback(c, body, len);
    case MQTT_PINGRESP: return 0;
    case MQTT_DISCONNECT:
      if (len >= 1) report_refusal(c, "server DISCONNECT:", body[0]);
      return -1;
    default: return 0;
  }
}

int proto_pub_can_send(conn_t *p) {
  const options_t *o = &B.opt;
  if (p->state != CS_READY) return 0;
  if (o->count && p->seq >= (uint64_t)o->count) return 0;
  if (B.e2e && p->seq - p->e2e_hi >= (uint32_t)o->window) {
    if (B.now - p->e2e_t < E2E_STALL_NS) return 0;
    /* nothing delivered for a while: the window's messages are lost (or very late) */
    p->e2e_hi = p->seq;
    p->e2e_t = B.now;
    B.n.e2e_timeouts++;
  }
  if (o->qos) return p->inflight < o->window;
  /* QoS 0: at most `window` messages not yet taken by the kernel */
  return !p->want_out && p->wlen - p->woff < (uint32_t)o->window * (uint32_t)(o->size + 64);
}

void proto_publish(conn_t *p) {
  const options_t *o = &B.opt;
  uint32_t hl = B.head_len[p->index];
  uint32_t n = hl + (o->qos ? 2 : 0) + (o->version == MQTT_V5 ? 1 : 0) + (uint32_t)o->size;
  uint8_t *w = conn_reserve(p, n);
  memcpy(w, B.heads + B.head_off[p->index], hl);
  uint32_t off = hl;
  if (o->qos) {
    if (++p->next_pid == 0) p->next_pid = 1;
    w[off++] = (uint8_t)(p->next_pid >> 8);
    w[off++] = (uint8_t)p->next_pid;
    p->inflight++;
    if (B.ack_ts) ack_stamp(p, p->next_pid);
  }
  if (o->version == MQTT_V5) w[off++] = 0;
  stamp_put(w + off, B.run_tag, p->index, p->seq, (uint64_t)B.now);
  off += STAMP_SIZE;
  memcpy(w + off, B.filler, (size_t)o->size - STAMP_SIZE);
  conn_commit(p, n);
  if (p->seq == p->e2e_hi) p->e2e_t = B.now;
  p->seq++;
  B.n.sent++;
  if (B.phase == PH_MEASURE) B.n.sent_window++;
}

void proto_ping_idle(int64_t older_than) {
  for (int i = 0; i < B.nconns; i++) {
    conn_t *c = &B.conns[i];
    if (c->state == CS_READY && c->last_tx < older_than) {
      conn_commit(c, (uint32_t)mqtt_pingreq(conn_reserve(c, 2)));
      B.n.pings++;
    }
  }
}
