#include "mqtt.h"

#include <string.h>

int mqtt_varint_size(uint32_t n) {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

int mqtt_varint_put(uint8_t *dst, uint32_t n) {
  int i = 0;
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    dst[i++] = n ? (b | 0x80) : b;
  } while (n);
  return i;
}

int mqtt_varint_get(const uint8_t *src, size_t avail, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    if ((size_t)i >= avail) return 0;
    v |= (uint32_t)(src[i] & 0x7f) << (7 * i);
    if (!(src[i] & 0x80)) {
      *out = v;
      return i + 1;
    }
  }
  return -1;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
  return p + 2;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n) {
  p = put_u16(p, (uint16_t)n);
  memcpy(p, s, n);
  return p + n;
}

/* Writes fixed header + body built in tmp; returns total size. */
static size_t frame(uint8_t *dst, uint8_t header, const uint8_t *body, size_t body_len) {
  dst[0] = header;
  int vl = mqtt_varint_put(dst + 1, (uint32_t)body_len);
  memmove(dst + 1 + vl, body, body_len);
  return 1 + vl + body_len;
}

size_t mqtt_connect(uint8_t *dst, int version, const char *client_id, int clean,
                    uint16_t keepalive, uint32_t session_expiry) {
  uint8_t body[MQTT_SMALL_MAX];
  uint8_t *p = put_str(body, "MQTT", 4);
  *p++ = (uint8_t)version;
  *p++ = clean ? 0x02 : 0x00;
  p = put_u16(p, keepalive);
  if (version == MQTT_V5) {
    if (!clean && session_expiry) {
      *p++ = 5; /* properties length */
      *p++ = 0x11; /* Session Expiry Interval */
      *p++ = session_expiry >> 24;
      *p++ = (session_expiry >> 16) & 0xff;
      *p++ = (session_expiry >> 8) & 0xff;
      *p++ = session_expiry & 0xff;
    } else {
      *p++ = 0;
    }
  }
  p = put_str(p, client_id, strlen(client_id));
  return frame(dst, MQTT_CONNECT << 4, body, (size_t)(p - body));
}

size_t mqtt_subscribe(uint8_t *dst, int version, uint16_t pid, const char *filter, int qos) {
  uint8_t body[MQTT_SMALL_MAX];
  uint8_t *p = put_u16(body, pid);
  if (version == MQTT_V5) *p++ = 0;
  p = put_str(p, filter, strlen(filter));
  *p++ = (uint8_t)qos;
  return frame(dst, (MQTT_SUBSCRIBE << 4) | 0x02, body, (size_t)(p - body));
}

size_t mqtt_ack(uint8_t *dst, int type, uint16_t pid) {
  dst[0] = (uint8_t)((type << 4) | (type == MQTT_PUBREL ? 0x02 : 0));
  dst[1] = 2;
  put_u16(dst + 2, pid);
  return 4;
}

size_t mqtt_pingreq(uint8_t *dst) {
  dst[0] = MQTT_PINGREQ << 4;
  dst[1] = 0;
  return 2;
}

size_t mqtt_disconnect(uint8_t *dst) {
  dst[0] = MQTT_DISCONNECT << 4;
  dst[1] = 0;
  return 2;
}

size_t mqtt_publish_head(uint8_t *dst, int version, int qos, const char *topic,
                         size_t payload_len) {
  size_t tlen = strlen(topic);
  size_t body = 2 + tlen + (qos ? 2 : 0) + (version == MQTT_V5 ? 1 : 0) + payload_len;
  dst[0] = (uint8_t)((MQTT_PUBLISH << 4) | (qos << 1));
  int vl = mqtt_varint_put(dst + 1, (uint32_t)body);
  uint8_t *p = put_str(dst + 1 + vl, topic, tlen);
  return (size_t)(p - dst);
}

int mqtt_publish_parse(uint8_t flags, const uint8_t *body, size_t len, int version,
                       mqtt_publish_t *out) {
  out->qos = (flags >> 1) & 3;
  out->dup = (flags >> 3) & 1;
  out->retain = flags & 1;
  if (out->qos == 3 || len < 2) return -1;
  size_t off = 0;
  out->topic_len = (uint16_t)((body[0] << 8) | body[1]);
  off = 2;
  if (off + out->topic_len > len) return -1;
  out->topic = body + off;
  off += out->topic_len;
  out->pid = 0;
  if (out->qos) {
    if (off + 2 > len) return -1;
    out->pid = (uint16_t)((body[off] << 8) | body[off + 1]);
    off += 2;
  }
  if (version == MQTT_V5) {
    uint32_t plen;
    int n = mqtt_varint_get(body + off, len - off, &plen);
    if (n <= 0 || off + n + plen > len) return -1;
    off += n + plen;
  }
  out->payload = body + off;
  out->payload_len = len - off;
  return 0;
}
