#include "report.h"

#include <stdio.h>
#include <unistd.h>

#include "bench.h"

static const char *PHASE_NAMES[] = {"connect", "warmup", "measure", "drain", "hold", "disconnect", "done"};

static double pct(double cpu_s, int64_t wall_ns) {
  return wall_ns > 0 ? 100.0 * cpu_s / ((double)wall_ns / 1e9) : 0;
}

static void human(char *buf, size_t cap, double v) {
  if (v >= 1e6) snprintf(buf, cap, "%.2fM", v / 1e6);
  else if (v >= 1e3) snprintf(buf, cap, "%.1fk", v / 1e3);
  else snprintf(buf, cap, "%.0f", v);
}

void report_progress(progress_state_t *ps, const proc_sample_t *broker, const proc_sample_t *self) {
  int64_t dt = B.now - ps->t;
  if (dt <= 0) return;
  double s = (double)dt / 1e9;
  char sent[16], recv[16];
  human(sent, sizeof sent, (double)(B.n.sent - ps->sent) / s);
  human(recv, sizeof recv, (double)(B.n.received - ps->received) / s);
  double self_pct = ps->self_cpu ? pct(self->cpu_s - ps->self_cpu, dt) : 0;
  double broker_pct = broker->ok && ps->broker_cpu ? pct(broker->cpu_s - ps->broker_cpu, dt) : 0;
  if (self_pct > ps->self_cpu_max_pct) ps->self_cpu_max_pct = self_pct;
  double lat_avg = B.iv_lat_n ? B.iv_lat_sum / (double)B.iv_lat_n / 1e6 : 0;
  uint64_t inflight = 0;
  for (int i = 0; i < B.npubs; i++) inflight += B.pubs[i].inflight;
  fprintf(stderr,
          "mqbench %6.1fs %-8s conn %d/%d  sent %s/s  recv %s/s  inflight %llu  lat avg %.2fms max %.2fms"
          "  cpu gen %.0f%%",
          (double)(B.now - B.t_start) / 1e9, PHASE_NAMES[B.phase], B.ready, B.nconns, sent, recv,
          (unsigned long long)inflight, lat_avg, (double)B.iv_lat_max / 1e6, self_pct);
  if (broker->ok) fprintf(stderr, " broker %.0f%% rss %.1fMB", broker_pct, (double)broker->rss_kb / 1024);
  fputc('\n', stderr);
  ps->t = B.now;
  ps->sent = B.n.sent;
  ps->received = B.n.received;
  ps->self_cpu = self->cpu_s;
  ps->broker_cpu = broker->ok ? broker->cpu_s : 0;
  B.iv_lat_sum = 0;
  B.iv_lat_n = 0;
  B.iv_lat_max = 0;
}

/* label and scenario name are user text: keep the result line valid JSON */
static void print_json_string(const char *str) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static double us(uint64_t ns) { return (double)ns / 1000.0; }

static void print_latency(const char *name, const hist_t *h) {
  printf("\"%s\":{\"count\":%llu,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
         "\"p999\":%.1f,\"max\":%.1f}",
         name, (unsigned long long)h->total, h->total ? h->sum / (double)h->total / 1000.0 : 0,
         us(hist_quantile(h, 0.5)), us(hist_quantile(h, 0.9)), us(hist_quantile(h, 0.99)),
         us(hist_quantile(h, 0.999)), us(h->max));
}

static void print_broker(const report_samples_t *s, int64_t connect_ns, int64_t measure_ns) {
  const proc_sample_t *b0 = &s->broker_start, *bc = &s->broker_connected, *e = &s->broker_end;
  if (!B.opt.broker_pid || !b0->ok) {
    printf("\"broker\":null");
    return;
  }
  double per_conn = 0;
  if (B.n.connect_ok && e->ok && e->rss_kb > b0->rss_kb)
    per_conn = (double)(e->rss_kb - b0->rss_kb) * 1024.0 / (double)B.n.connect_ok;
  printf("\"broker\":{\"pid\":%d,\"cpu_pct\":%.1f,\"connect_cpu_pct\":%.1f,\"rss_kb_start\":%llu,"
         "\"rss_kb_connected\":%llu,\"rss_kb_end\":%llu,\"rss_kb_max\":%llu,\"rss_per_conn_bytes\":%.0f}",
         B.opt.broker_pid,
         s->broker_measure_end.ok ? pct(s->broker_measure_end.cpu_s - s->broker_measure_start.cpu_s, measure_ns) : 0,
         bc->ok ? pct(bc->cpu_s - b0->cpu_s, connect_ns) : 0, (unsigned long long)b0->rss_kb,
         (unsigned long long)bc->rss_kb, (unsigned long long)e->rss_kb,
         (unsigned long long)s->broker_rss_max_kb, per_conn);
}

int report_result(const report_samples_t *s) {
  const options_t *o = &B.opt;
  int64_t connect_ns = (B.t_connected ? B.t_connected : B.now) - B.t_connect_start;
  int64_t measure_ns = B.t_measure_end > B.t_measure_start ? B.t_measure_end - B.t_measure_start : 0;
  double ms = (double)measure_ns / 1e9;
  uint64_t expected = B.n.sent * B.receivers_per_msg;
  uint64_t lost = expected > B.seq.unique ? expected - B.seq.unique : 0;
  double gen_cpu = pct(s->self_measure_end.cpu_s - s->self_measure_start.cpu_s, measure_ns);
  int ok = !B.interrupted && B.n.connect_failed == 0 && B.n.closed_by_broker == 0 && B.n.malformed == 0;
  printf("{\"tool\":\"mqbench\",\"label\":");
  print_json_string(o->label);
  printf(",\"scenario\":");
  print_json_string(o->scenario_name);
  printf(",\"mqtt\":\"%s\",\"qos\":%d,"
         "\"sub_qos\":%d,\"pubs\":%d,\"subs\":%d,\"conns\":%d,\"size\":%d,\"rate_target\":%.0f,"
         "\"window\":%d,\"open_loop\":%s,\"warmup_s\":%.1f,\"duration_s\":%.1f,\"count\":%ld,\"clean\":%s,"
         "\"persistent_subs\":%s,",
         o->version == 5 ? "5.0" : "3.1.1", o->qos, o->sub_qos, o->pubs,
         o->subs, o->conns, o->size, o->rate, o->window, o->open_loop ? "true" : "false", o->warmup, o->duration, o->count,
         o->clean ? "true" : "false", o->persistent_subs ? "true" : "false");
  printf("\"ok\":%s,\"interrupted\":%s,", ok ? "true" : "false", B.interrupted ? "true" : "false");
  long long overflows = s->listen_overflows_start >= 0 && s->listen_overflows_connected >= 0
                         ? s->listen_overflows_connected - s->listen_overflows_start : -1;
  printf("\"connect\":{\"ok\":%llu,\"failed\":%llu,\"seconds\":%.3f,\"rate_per_s\":%.0f,"
         "\"listen_overflows\":%lld},",
         (unsigned long long)B.n.connect_ok, (unsigned long long)B.n.connect_failed,
         (double)connect_ns / 1e9, connect_ns > 0 ? (double)B.n.connect_ok / ((double)connect_ns / 1e9) : 0,
         overflows);
  printf("\"measure_s\":%.3f,\"sent\":%llu,\"acked\":%llu,\"received\":%llu,\"expected\":%llu,"
         "\"unique\":%llu,\"lost\":%llu,\"duplicates\":%llu,\"reordered\":%llu,\"stale\":%llu,"
         "\"foreign\":%llu,\"malformed\":%llu,\"pub_errors\":%llu,\"closed_by_broker\":%llu,\"pings\":%llu,"
         "\"e2e_timeouts\":%llu,",
         ms, (unsigned long long)B.n.sent, (unsigned long long)B.n.acked,
         (unsigned long long)B.n.received, (unsigned long long)expected,
         (unsigned long long)B.seq.unique, (unsigned long long)lost,
         (unsigned long long)B.seq.duplicates, (unsigned long long)B.seq.reordered,
         (unsigned long long)B.n.stale, (unsigned long long)B.n.foreign,
         (unsigned long long)B.n.malformed, (unsigned long long)B.n.pub_errors,
         (unsigned long long)B.n.closed_by_broker, (unsigned long long)B.n.pings,
         (unsigned long long)B.n.e2e_timeouts);
  printf("\"send_rate\":%.0f,\"ack_rate\":%.0f,\"recv_rate\":%.0f,", ms > 0 ? (double)B.n.sent_window / ms : 0,
         ms > 0 ? (double)B.n.acked_window / ms : 0, ms > 0 ? (double)B.n.recv_window / ms : 0);
  /* latency_us: publish -> delivery to a subscriber; ack_latency_us: publish -> PUBACK / PUBCOMP */
  print_latency("latency_us", &B.lat);
  putchar(',');
  print_latency("ack_latency_us", &B.ack_lat);
  printf(",\"gen\":{\"cpu_pct\":%.1f,\"connect_cpu_pct\":%.1f,\"rss_kb\":%llu,\"saturated\":%s},",
         gen_cpu, pct(s->self_connected.cpu_s - s->self_start.cpu_s, connect_ns),
         (unsigned long long)s->self_end.rss_kb, gen_cpu > 90 ? "true" : "false");
  double host = s->host_busy_measure_start >= 0 && s->host_busy_measure_end >= 0
                  ? pct(s->host_busy_measure_end - s->host_busy_measure_start, measure_ns) : -1;
  printf("\"host\":{\"cpu_pct\":%.1f,\"cores\":%ld},", host, sysconf(_SC_NPROCESSORS_ONLN));
  print_broker(s, connect_ns, measure_ns);
  printf("}\n");
  fflush(stdout);
  return ok;
}
