#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stamp.h"

static const char *USAGE =
  "usage: mqbench --scenario fan-in|fan-out|p2p|shared|conns [options]\n"
  "  --host H --port N          broker address (127.0.0.1:1883)\n"
  "  --pubs P --subs S          publishers and subscribers\n"
  "  --conns N                  conns scenario: idle connections to hold\n"
  "  --qos 0|1|2 --sub-qos Q    publish QoS, subscription QoS (default = --qos)\n"
  "  --mqtt 3|5                 protocol 3.1.1 or 5.0 (3)\n"
  "  --size B                   payload bytes (64, min 20)\n"
  "  --rate R                   aggregate msg/s, 0 = as fast as the window allows (0)\n"
  "  --window W                 per publisher: messages not yet acked (QoS>0) and not yet\n"
  "                             delivered to this process's subscribers (16)\n"
  "  --open-loop                publishers wait only for PUBACK (QoS>0) or the socket (QoS 0)\n"
  "  --warmup S --duration S --drain S   phases in seconds (2, 10, 5)\n"
  "  --count N                  messages per publisher, then stop (0 = timed run)\n"
  "  --sources K --source-base B   spread over 127.0.0.B .. 127.0.0.(B+K-1) (4, 2)\n"
  "  --keepalive S              keepalive seconds (60)\n"
  "  --persistent               clean session 0 (v5: session expiry 3600 s)\n"
  "  --persistent-subs          the same for the subscribers only\n"
  "  --conn-sub                 conns scenario: each connection subscribes\n"
  "  --connect-concurrency N    handshakes in flight (64)\n"
  "  --connect-timeout S        (60)\n"
  "  --broker-pid PID           sample the broker's CPU and RSS\n"
  "  --id-prefix S --id-base N  client ids <prefix><role><n> (mqb<pid>-), first number\n"
  "  --topic-prefix T --zones Z fan-in topics <T>/<zone>/<id>/status (city/lights, 10)\n"
  "  --filter F                 subscription filter override\n"
  "  --label S                  copied into the result\n"
  "  --progress S               progress line period, 0 = none (1)\n";

static void usage_exit(const char *msg) {
  if (msg) fprintf(stderr, "mqbench: %s\n", msg);
  fputs(USAGE, stderr);
  exit(2);
}

enum {
  O_HOST = 256, O_PORT, O_PUBS, O_SUBS, O_CONNS, O_QOS, O_SUBQOS, O_MQTT, O_SIZE, O_RATE,
  O_WINDOW, O_WARMUP, O_DURATION, O_DRAIN, O_COUNT, O_SOURCES, O_SOURCE_BASE, O_KEEPALIVE,
  O_PERSISTENT, O_CONN_SUB, O_CONC, O_CTIMEOUT, O_BPID, O_IDPREFIX, O_IDBASE, O_TPREFIX,
  O_ZONES, O_FILTER, O_LABEL, O_PROGRESS, O_SCENARIO, O_HELP, O_OPEN_LOOP, O_PERSISTENT_SUBS,
};

static const struct option LONGOPTS[] = {
  {"scenario", 1, 0, O_SCENARIO}, {"host", 1, 0, O_HOST}, {"port", 1, 0, O_PORT},
  {"pubs", 1, 0, O_PUBS}, {"subs", 1, 0, O_SUBS}, {"conns", 1, 0, O_CONNS},
  {"qos", 1, 0, O_QOS}, {"sub-qos", 1, 0, O_SUBQOS}, {"mqtt", 1, 0, O_MQTT},
  {"size", 1, 0, O_SIZE}, {"rate", 1, 0, O_RATE}, {"window", 1, 0, O_WINDOW},
  {"warmup", 1, 0, O_WARMUP}, {"duration", 1, 0, O_DURATION}, {"drain", 1, 0, O_DRAIN},
  {"count", 1, 0, O_COUNT}, {"sources", 1, 0, O_SOURCES}, {"source-base", 1, 0, O_SOURCE_BASE},
  {"keepalive", 1, 0, O_KEEPALIVE}, {"persistent", 0, 0, O_PERSISTENT},
  {"conn-sub", 0, 0, O_CONN_SUB}, {"connect-concurrency", 1, 0, O_CONC},
  {"connect-timeout", 1, 0, O_CTIMEOUT}, {"broker-pid", 1, 0, O_BPID},
  {"id-prefix", 1, 0, O_IDPREFIX}, {"id-base", 1, 0, O_IDBASE},
  {"topic-prefix", 1, 0, O_TPREFIX}, {"zones", 1, 0, O_ZONES}, {"filter", 1, 0, O_FILTER},
  {"label", 1, 0, O_LABEL}, {"progress", 1, 0, O_PROGRESS}, {"help", 0, 0, O_HELP},
  {"open-loop", 0, 0, O_OPEN_LOOP}, {"persistent-subs", 0, 0, O_PERSISTENT_SUBS},
  {0, 0, 0, 0},
};

static long to_long(const char *s, long lo, long hi, const char *what) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < lo || v > hi) {
    char msg[128];
    snprintf(msg, sizeof msg, "bad %s: %s (range %ld..%ld)", what, s, lo, hi);
    usage_exit(msg);
  }
  return v;
}

static double to_double(const char *s, double lo, const char *what) {
  char *end;
  double v = strtod(s, &end);
  if (*end || v < lo) {
    char msg[128];
    snprintf(msg, sizeof msg, "bad %s: %s", what, s);
    usage_exit(msg);
  }
  return v;
}

static scenario_t scenario_of(const char *s) {
  if (!strcmp(s, "fan-in")) return SC_FANIN;
  if (!strcmp(s, "fan-out")) return SC_FANOUT;
  if (!strcmp(s, "p2p") || !strcmp(s, "point-to-point")) return SC_P2P;
  if (!strcmp(s, "shared")) return SC_SHARED;
  if (!strcmp(s, "conns")) return SC_CONNS;
  usage_exit("unknown --scenario");
  return SC_FANIN;
}

void options_parse(options_t *o, int argc, char **argv) {
  static char prefix[32];
  snprintf(prefix, sizeof prefix, "mqb%d-", (int)getpid());
  *o = (options_t){
    .scenario = SC_FANIN, .scenario_name = "fan-in", .label = "", .host = "127.0.0.1",
    .port = 1883, .pubs = -1, .subs = -1, .conns = 1000, .qos = 0, .sub_qos = -1,
    .version = 4, .size = 64, .rate = 0, .window = 16, .warmup = 2, .duration = 10,
    .drain = 5, .count = 0, .sources = 4, .source_base = 2, .keepalive = 60, .clean = 1,
    .conn_sub = 0, .connect_concurrency = 64, .connect_timeout = 60, .broker_pid = 0,
    .id_prefix = prefix, .topic_prefix = "city/lights", .filter = NULL, .zones = 10,
    .id_base = 0, .progress = 1,
  };
  int c;
  while ((c = getopt_long(argc, argv, "", LONGOPTS, NULL)) != -1) {
    switch (c) {
      case O_SCENARIO: o->scenario = scenario_of(optarg); o->scenario_name = optarg; break;
      case O_HOST: o->host = optarg; break;
      case O_PORT: o->port = (int)to_long(optarg, 1, 65535, "port"); break;
      case O_PUBS: o->pubs = (int)to_long(optarg, 0, 1000000, "pubs"); break;
      case O_SUBS: o->subs = (int)to_long(optarg, 0, 1000000, "subs"); break;
      case O_CONNS: o->conns = (int)to_long(optarg, 0, 1000000, "conns"); break;
      case O_QOS: o->qos = (int)to_long(optarg, 0, 2, "qos"); break;
      case O_SUBQOS: o->sub_qos = (int)to_long(optarg, 0, 2, "sub-qos"); break;
      case O_MQTT: {
        long v = to_long(optarg, 3, 5, "mqtt");
        if (v == 4) usage_exit("--mqtt takes 3 (3.1.1) or 5");
        o->version = v == 5 ? 5 : 4;
        break;
      }
      case O_SIZE: o->size = (int)to_long(optarg, STAMP_SIZE, 256 * 1024, "size"); break;
      case O_RATE: o->rate = to_double(optarg, 0, "rate"); break;
      case O_WINDOW: o->window = (int)to_long(optarg, 1, 65535, "window"); break;
      case O_WARMUP: o->warmup = to_double(optarg, 0, "warmup"); break;
      case O_DURATION: o->duration = to_double(optarg, 0, "duration"); break;
      case O_DRAIN: o->drain = to_double(optarg, 0, "drain"); break;
      case O_COUNT: o->count = to_long(optarg, 0, 1L << 31, "count"); break;
      case O_SOURCES: o->sources = (int)to_long(optarg, 0, 250, "sources"); break;
      case O_SOURCE_BASE: o->source_base = (int)to_long(optarg, 1, 254, "source-base"); break;
      case O_KEEPALIVE: o->keepalive = (int)to_long(optarg, 0, 65535, "keepalive"); break;
      case O_PERSISTENT: o->clean = 0; break;
      case O_PERSISTENT_SUBS: o->persistent_subs = 1; break;
      case O_CONN_SUB: o->conn_sub = 1; break;
      case O_CONC: o->connect_concurrency = (int)to_long(optarg, 1, 100000, "connect-concurrency"); break;
      case O_CTIMEOUT: o->connect_timeout = to_double(optarg, 0.1, "connect-timeout"); break;
      case O_BPID: o->broker_pid = (int)to_long(optarg, 1, 1L << 30, "broker-pid"); break;
      case O_IDPREFIX: o->id_prefix = optarg; break;
      case O_IDBASE: o->id_base = (int)to_long(optarg, 0, 1L << 30, "id-base"); break;
      case O_TPREFIX: o->topic_prefix = optarg; break;
      case O_ZONES: o->zones = (int)to_long(optarg, 1, 1000000, "zones"); break;
      case O_FILTER: o->filter = optarg; break;
      case O_LABEL: o->label = optarg; break;
      case O_PROGRESS: o->progress = to_double(optarg, 0, "progress"); break;
      case O_OPEN_LOOP: o->open_loop = 1; break;
      case O_HELP: usage_exit(NULL); break;
      default: usage_exit(NULL);
    }
  }
  if (optind < argc) usage_exit("unexpected argument");
  if (o->sub_qos < 0) o->sub_qos = o->qos;
  /* scenario defaults for the counts left unset */
  int dp = 1, ds = 1;
  switch (o->scenario) {
    case SC_FANIN: dp = 1000; ds = 1; break;
    case SC_FANOUT: dp = 1; ds = 1000; break;
    case SC_P2P: dp = 100; ds = -1; break;
    case SC_SHARED: dp = 1000; ds = 4; break;
    case SC_CONNS: dp = 0; ds = 0; break;
  }
  if (o->pubs < 0) o->pubs = dp;
  if (o->subs < 0) o->subs = ds < 0 ? o->pubs : ds;
  if (o->scenario == SC_P2P && o->pubs != o->subs) usage_exit("p2p needs --pubs = --subs");
  if (o->scenario == SC_CONNS) o->pubs = o->subs = 0;
  else o->conns = 0;
  if (o->pubs + o->subs + o->conns > 19000)
    usage_exit("more than 19000 sockets in one process: split the load over several processes (--id-base)");
}
