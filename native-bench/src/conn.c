/*
 * Non-blocking sockets on one epoll set: connect from spread source addresses,
 * large reads into one shared buffer, writes batched per loop iteration.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "mqtt.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static void set_events(conn_t *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(B.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int conn_index(const conn_t *c) { return (int)(c - B.conns); }

const char *conn_client_id(const conn_t *c, char *buf, int cap) {
  static const char role_ch[] = {'s', 'p', 'c'};
  snprintf(buf, (size_t)cap, "%s%c%u", B.opt.id_prefix, role_ch[c->role],
           (unsigned)(B.opt.id_base + c->index));
  return buf;
}

void conn_close(conn_t *c, int failed) {
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  if (c->state != CS_READY && c->state != CS_CLOSED) {
    B.handshakes--;
    if (failed) B.n.connect_failed++;
  } else if (c->state == CS_READY) {
    B.ready--;
    if (failed) B.n.closed_by_broker++;
  }
  c->state = CS_CLOSED;
  free(c->pend);
  free(c->wbuf);
  c->pend = c->wbuf = NULL;
  c->pend_len = c->wlen = c->woff = c->wcap = 0;
}

void conn_start(conn_t *c) {
  const options_t *o = &B.opt;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("mqbench: socket");
    B.handshakes++;
    c->state = CS_CONNECTING;
    conn_close(c, 1);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o->sources > 0) {
    /* the port is chosen at connect(), per destination: each source address
       then has its own ~28k ephemeral ports */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(o->source_base + conn_index(c) % o->sources));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) perror("mqbench: bind source");
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
  inet_pton(AF_INET, o->host, &dst.sin_addr);
  c->fd = fd;
  c->state = CS_CONNECTING;
  B.handshakes++;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(B.ep, EPOLL_CTL_ADD, fd, &ev);
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    conn_close(c, 1);
  }
}

uint8_t *conn_reserve(conn_t *c, uint32_t n) {
  if (c->woff && c->wlen + n > c->wcap) {
    memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
    c->wlen -= c->woff;
    c->woff = 0;
  }
  if (c->wlen + n > c->wcap) {
    uint32_t cap = c->wcap ? c->wcap : 256;
    while (cap < c->wlen + n) cap *= 2;
    c->wbuf = realloc(c->wbuf, cap);
    if (!c->wbuf) {
      fputs("mqbench: out of memory\n", stderr);
      exit(1);
    }
    c->wcap = cap;
  }
  return c->wbuf + c->wlen;
}

void conn_commit(conn_t *c, uint32_t n) {
  c->wlen += n;
  c->last_tx = B.now;
  if (!c->dirty && !c->want_out) {
    c->dirty = 1;
    B.dirty[B.ndirty++] = c;
  }
}

void conn_flush(conn_t *c) {
  while (c->woff < c->wlen) {
    ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->woff += (uint32_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!c->want_out) {
        c->want_out = 1;
        set_events(c, EPOLLIN | EPOLLOUT);
      }
      return;
    }
    conn_close(c, 1);
    return;
  }
  c->wlen = c->woff = 0;
  if (c->want_out) {
    c->want_out = 0;
    set_events(c, EPOLLIN);
  }
  /* idle connections hold no buffer between their rare writes */
  if (c->role == ROLE_IDLE && c->wbuf) {
    free(c->wbuf);
    c->wbuf = NULL;
    c->wcap = 0;
  }
}

void conn_flush_dirty(void) {
  for (int i = 0; i < B.ndirty; i++) {
    conn_t *c = B.dirty[i];
    c->dirty = 0;
    if (c->fd >= 0) conn_flush(c);
  }
  B.ndirty = 0;
}

static void on_connect_done(conn_t *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    conn_close(c, 1);
    return;
  }
  set_events(c, EPOLLIN);
  proto_on_connected(c);
}

/* Parses every complete packet in buf[0..have); returns bytes consumed or -1. */
static int64_t parse_packets(conn_t *c, const uint8_t *buf, uint32_t have) {
  uint32_t off = 0;
  while (have - off >= 2) {
    uint32_t rl;
    int vl = mqtt_varint_get(buf + off + 1, have - off - 1, &rl);
    if (vl < 0) return -1;
    if (vl == 0) break;
    uint32_t total = 1 + (uint32_t)vl + rl;
    if (total > B.rcap / 2) return -1; /* larger than anything this run expects */
    if (have - off < total) break;
    if (proto_on_packet(c, buf[off], buf + off + 1 + vl, rl) < 0) return -1;
    if (c->fd < 0) return -1;
    off += total;
  }
  return off;
}

static void on_readable(conn_t *c) {
  uint32_t have = c->pend_len;
  if (have) memcpy(B.rbuf, c->pend, have);
  ssize_t n = recv(c->fd, B.rbuf + have, B.rcap - have, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    conn_close(c, B.phase != PH_DISCONNECT);
    return;
  }
  if (n < 0) return;
  have += (uint32_t)n;
  B.now = now_ns(); /* latency of this read's deliveries is measured here */
  int64_t used = parse_packets(c, B.rbuf, have);
  if (used < 0) {
    if (c->fd >= 0) {
      B.n.malformed++;
      conn_close(c, 1);
    }
    return;
  }
  uint32_t left = have - (uint32_t)used;
  if (left) {
    if (left > c->pend_len || !c->pend) c->pend = realloc(c->pend, left);
    memmove(c->pend, B.rbuf + used, left);
  } else if (c->pend) {
    free(c->pend);
    c->pend = NULL;
  }
  c->pend_len = left;
}

void conn_on_event(conn_t *c, uint32_t events) {
  if (c->fd < 0) return;
  if (c->state == CS_CONNECTING) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connect_done(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
  if (c->fd >= 0 && (events & EPOLLOUT) && c->want_out) conn_flush(c);
}
