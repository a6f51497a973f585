/*
 * mqbench: a single-threaded epoll MQTT client swarm.
 * Phases: connect -> warm-up -> measure -> drain -> disconnect (or, for conns:
 * connect -> hold -> disconnect). A progress line goes to stderr every
 * --progress seconds; one JSON result line goes to stdout at the end.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench.h"
#include "mqtt.h"
#include "procstat.h"
#include "report.h"

bench_t B;
static volatile sig_atomic_t stop_requested;
static report_samples_t S;

static void on_signal(int sig) { stop_requested = sig; }

static double secs(int64_t ns) { return (double)ns / 1e9; }
static int64_t ns_of(double s) { return (int64_t)(s * 1e9); }

static void setup(int argc, char **argv) {
  options_parse(&B.opt, argc, argv);
  const options_t *o = &B.opt;
  B.nsubs = o->subs;
  B.npubs = o->pubs;
  B.nidle = o->conns;
  B.nconns = B.nsubs + B.npubs + B.nidle;
  B.conns = calloc((size_t)B.nconns + 1, sizeof(conn_t));
  B.dirty = calloc((size_t)B.nconns + 1, sizeof(conn_t *));
  B.subs = B.conns;
  B.pubs = B.conns + B.nsubs;
  B.idle = B.pubs + B.npubs;
  for (int i = 0; i < B.nconns; i++) {
    conn_t *c = &B.conns[i];
    c->fd = -1;
    c->role = i < B.nsubs ? ROLE_SUB : i < B.nsubs + B.npubs ? ROLE_PUB : ROLE_IDLE;
    c->index = (uint32_t)(c->role == ROLE_SUB ? i : c->role == ROLE_PUB ? i - B.nsubs : i - B.nsubs - B.npubs);
  }
  B.ep = epoll_create1(EPOLL_CLOEXEC);
  B.rcap = 1u << 20;
  if (B.rcap < 4u * ((uint32_t)o->size + 1024)) B.rcap = 4u * ((uint32_t)o->size + 1024);
  B.rbuf = malloc(B.rcap);
  B.run_tag = (uint32_t)(now_ns() ^ ((int64_t)getpid() << 16)) | 1u;
  proto_build_heads();
  /* one sink per subscriber (per group for shared); one slot per publisher */
  B.nsinks = o->scenario == SC_SHARED ? (B.nsubs ? 1 : 0) : B.nsubs;
  B.sink_slots = o->scenario == SC_P2P ? 1 : B.npubs;
  if ((double)B.nsinks * B.sink_slots > 5e7) {
    fputs("mqbench: subscribers x publishers too large to track; use fewer\n", stderr);
    exit(2);
  }
  B.slots = calloc((size_t)B.nsinks * (size_t)B.sink_slots + 1, sizeof(seq_slot_t));
  B.receivers_per_msg = (o->scenario == SC_SHARED || o->scenario == SC_P2P) ? (B.nsubs ? 1 : 0) : (uint64_t)B.nsubs;
  B.e2e = !o->open_loop && B.receivers_per_msg > 0;
  hist_reset(&B.lat);
  hist_reset(&B.ack_lat);
  /* publish -> ack latency: one send time per window slot of each publisher (10 bytes a slot) */
  if (o->qos > 0 && B.npubs > 0) {
    if ((double)B.npubs * o->window <= 1e7) {
      B.ack_ts = calloc((size_t)B.npubs * (size_t)o->window, sizeof *B.ack_ts);
      B.ack_pid = calloc((size_t)B.npubs * (size_t)o->window, sizeof *B.ack_pid);
    } else {
      fputs("mqbench: publishers x window too large to time acknowledgements; ack_latency_us stays empty\n", stderr);
    }
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
}

static int publishing(void) { return B.phase == PH_WARMUP || B.phase == PH_MEASURE; }

static void sample_into(proc_sample_t *broker, proc_sample_t *self) {
  if (broker && B.opt.broker_pid) *broker = proc_sample(B.opt.broker_pid);
  if (self) *self = proc_sample(0);
}

static void enter(phase_t ph) {
  B.phase = ph;
  switch (ph) {
    case PH_WARMUP: B.t_pub_start = B.now; break;
    case PH_MEASURE:
      if (!B.t_pub_start) B.t_pub_start = B.now;
      B.t_measure_start = B.now;
      sample_into(&S.broker_measure_start, &S.self_measure_start);
      S.host_busy_measure_start = proc_host_busy_s();
      break;
    case PH_DRAIN:
      B.t_measure_end = B.now;
      B.t_drain_start = B.now;
      sample_into(&S.broker_measure_end, &S.self_measure_end);
      S.host_busy_measure_end = proc_host_busy_s();
      break;
    case PH_HOLD:
      B.t_hold_end = B.now + ns_of(B.opt.duration);
      sample_into(&S.broker_measure_start, &S.self_measure_start);
      S.host_busy_measure_start = proc_host_busy_s();
      break;
    default: break;
  }
}

static void after_connect(void) {
  B.t_connected = B.now;
  sample_into(&S.broker_connected, &S.self_connected);
  S.listen_overflows_connected = proc_listen_overflows();
  if (B.nidle) enter(PH_HOLD);
  else if (B.opt.warmup > 0 && !B.opt.count) enter(PH_WARMUP);
  else enter(PH_MEASURE);
}

static void connect_step(void) {
  while (B.handshakes < B.opt.connect_concurrency && B.next_connect < B.nconns)
    conn_start(&B.conns[B.next_connect++]);
  if (B.next_connect == B.nconns && B.handshakes == 0) {
    after_connect();
    return;
  }
  if (B.now - B.t_connect_start > ns_of(B.opt.connect_timeout)) {
    fprintf(stderr, "mqbench: connect timeout, %d handshakes abandoned, %d never started\n",
            B.handshakes, B.nconns - B.next_connect);
    for (int i = 0; i < B.nconns; i++)
      if (B.conns[i].state != CS_READY && B.conns[i].state != CS_CLOSED && B.conns[i].fd >= 0)
        conn_close(&B.conns[i], 1);
    B.n.connect_failed += (uint64_t)(B.nconns - B.next_connect);
    B.next_connect = B.nconns;
    after_connect();
  }
}

/* Returns 1 when a publisher could still send now (the loop must not sleep). */
static int publish_step(void) {
  const options_t *o = &B.opt;
  if (!B.npubs) return 0;
  if (o->rate <= 0) {
    int more = 0;
    for (int i = 0; i < B.npubs; i++) {
      conn_t *p = &B.pubs[i];
      for (int k = 0; k < o->window && proto_pub_can_send(p); k++) proto_publish(p);
      more |= proto_pub_can_send(p);
    }
    return more && o->qos == 0;
  }
  double target = o->rate * secs(B.now - B.t_pub_start);
  int tried = 0;
  while (B.issued + 1 <= target && tried < B.npubs) {
    conn_t *p = &B.pubs[B.rr];
    if (++B.rr == B.npubs) B.rr = 0;
    if (proto_pub_can_send(p)) {
      proto_publish(p);
      B.issued += 1;
      tried = 0;
    } else {
      tried++;
    }
  }
  return 0;
}

static int all_publishers_done(void) {
  for (int i = 0; i < B.npubs; i++) {
    const conn_t *p = &B.pubs[i];
    if (p->state == CS_READY && p->seq < (uint64_t)B.opt.count) return 0;
  }
  return 1;
}

static int drained(void) {
  for (int i = 0; i < B.npubs; i++)
    if (B.pubs[i].state == CS_READY && (B.pubs[i].inflight || B.pubs[i].wlen > B.pubs[i].woff)) return 0;
  uint64_t expected = B.n.sent * B.receivers_per_msg;
  if (B.seq.unique >= expected) return 1;
  int64_t quiet = ns_of(0.5);
  return B.now - B.t_drain_start > quiet && B.now - B.t_last_recv > quiet;
}

static void disconnect_all(void) {
  for (int i = 0; i < B.nconns; i++) {
    conn_t *c = &B.conns[i];
    if (c->state == CS_READY) {
      conn_commit(c, (uint32_t)mqtt_disconnect(conn_reserve(c, 2)));
      conn_flush(c);
    }
  }
  for (int i = 0; i < B.nconns; i++)
    if (B.conns[i].fd >= 0) conn_close(&B.conns[i], 0);
  B.ndirty = 0;
}

/* Phase transitions and work due now; returns the epoll timeout in ms. */
static int step(void) {
  const options_t *o = &B.opt;
  if (stop_requested && B.phase < PH_DISCONNECT) {
    B.interrupted = 1;
    if (publishing()) enter(PH_DRAIN);
    B.phase = PH_DISCONNECT;
  }
  switch (B.phase) {
    case PH_CONNECT: connect_step(); return B.phase == PH_CONNECT ? 5 : 0;
    case PH_WARMUP:
      if (B.now - B.t_pub_start >= ns_of(o->warmup)) enter(PH_MEASURE);
      break;
    case PH_MEASURE:
      if (B.now - B.t_measure_start >= ns_of(o->duration) || (o->count && all_publishers_done()) ||
          (B.ready == 0 && B.nconns > 0)) {
        enter(PH_DRAIN);
        return 0;
      }
      break;
    case PH_DRAIN:
      if (drained() || B.now - B.t_drain_start >= ns_of(o->drain)) {
        sample_into(&S.broker_end, &S.self_end);
        B.phase = PH_DISCONNECT;
      }
      return 0;
    case PH_HOLD:
      if (B.now >= B.t_hold_end) {
        sample_into(&S.broker_end, &S.self_end);
        S.self_measure_end = S.self_end;
        S.broker_measure_end = S.broker_end;
        S.host_busy_measure_end = proc_host_busy_s();
        B.t_measure_start = B.t_connected;
        B.t_measure_end = B.now;
        B.phase = PH_DISCONNECT;
        return 0;
      }
      return 100;
    case PH_DISCONNECT:
      disconnect_all();
      B.phase = PH_DONE;
      return 0;
    default: return 0;
  }
  if (publish_step()) return 0;
  return o->rate > 0 ? 1 : 50;
}

/* Once a second: broker and self samples, keepalive pings, progress line. */
static void tick(int64_t *next_tick, int64_t *next_progress, progress_state_t *ps) {
  if (B.now < *next_tick) return;
  *next_tick = B.now + ns_of(1);
  proc_sample_t broker = {0}, self = proc_sample(0);
  if (B.opt.broker_pid) {
    broker = proc_sample(B.opt.broker_pid);
    if (broker.rss_kb > S.broker_rss_max_kb) S.broker_rss_max_kb = broker.rss_kb;
  }
  if (B.opt.keepalive > 0 && B.phase != PH_CONNECT)
    proto_ping_idle(B.now - ns_of(B.opt.keepalive / 2.0));
  if (B.opt.progress > 0 && B.now >= *next_progress) {
    *next_progress = B.now + ns_of(B.opt.progress);
    report_progress(ps, &broker, &self);
  }
}

int main(int argc, char **argv) {
  setup(argc, argv);
  struct epoll_event *events = calloc(4096, sizeof *events);
  B.now = B.t_start = B.t_connect_start = now_ns();
  sample_into(&S.broker_start, &S.self_start);
  S.broker_rss_max_kb = S.broker_start.rss_kb;
  S.listen_overflows_start = proc_listen_overflows();
  B.phase = PH_CONNECT;
  int64_t next_tick = B.now + ns_of(1), next_progress = B.now + ns_of(B.opt.progress);
  progress_state_t ps = {0};
  ps.t = B.now;
  ps.self_cpu = S.self_start.cpu_s;
  ps.broker_cpu = S.broker_start.ok ? S.broker_start.cpu_s : 0;
  int timeout = 0;
  while (B.phase != PH_DONE) {
    int n = epoll_wait(B.ep, events, 4096, timeout);
    B.now = now_ns();
    for (int i = 0; i < n; i++) conn_on_event(events[i].data.ptr, events[i].events);
    B.now = now_ns();
    timeout = step();
    conn_flush_dirty();
    tick(&next_tick, &next_progress, &ps);
  }
  int ok = report_result(&S);
  return ok ? 0 : 1;
}
