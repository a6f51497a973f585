/* Command-line options of mqbench: every scenario is a set of flags. */
#ifndef MQBENCH_OPTIONS_H
#define MQBENCH_OPTIONS_H

typedef enum { SC_FANIN, SC_FANOUT, SC_P2P, SC_SHARED, SC_CONNS } scenario_t;

typedef struct {
  scenario_t scenario;
  const char *scenario_name;
  const char *label;        /* free text copied into the result */
  const char *host;
  int port;
  int pubs, subs, conns;
  int qos;                  /* publish QoS */
  int sub_qos;              /* subscription QoS (default = qos) */
  int version;              /* 4 = MQTT 3.1.1, 5 = MQTT 5.0 */
  int size;                 /* payload bytes, >= STAMP_SIZE */
  double rate;              /* aggregate msg/s; 0 = as fast as the window allows */
  int window;               /* messages per publisher not yet acknowledged (QoS 1/2) and not yet delivered */
  int open_loop;            /* publishers do not wait for delivery, only for PUBACK / the socket */
  double warmup, duration, drain;
  long count;               /* messages per publisher; 0 = run for the duration */
  int sources;              /* source addresses 127.0.0.<source_base>...; 0 = let the kernel pick */
  int source_base;
  int keepalive;
  int clean;                /* clean session / clean start */
  int persistent_subs;      /* subscribers only: clean session 0 (v5: session expiry 3600 s) */
  int conn_sub;             /* conns mode: each connection subscribes to its own topic */
  int connect_concurrency;  /* connections in the handshake at once */
  double connect_timeout;
  int broker_pid;
  const char *id_prefix;
  const char *topic_prefix; /* fan-in / shared publishers: <prefix>/<zone>/<id>/status */
  const char *filter;       /* subscription filter override */
  int zones;
  int id_base;              /* first publisher / connection number (several processes) */
  double progress;          /* seconds between progress lines; 0 = none */
} options_t;

/** Parses argv into o (defaults first); exits with usage on error. */
void options_parse(options_t *o, int argc, char **argv);

#endif
