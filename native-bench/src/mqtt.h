/*
 * Hand-encoded MQTT 3.1.1 / 5.0 packets: exactly what a load generator sends,
 * and a fixed-header reader for what it receives. No allocation: callers pass
 * the destination buffer, sized with the *_len helpers or MQTT_SMALL_MAX.
 */
#ifndef MQBENCH_MQTT_H
#define MQBENCH_MQTT_H

#include <stddef.h>
#include <stdint.h>

enum {
  MQTT_CONNECT = 1, MQTT_CONNACK = 2, MQTT_PUBLISH = 3, MQTT_PUBACK = 4,
  MQTT_PUBREC = 5, MQTT_PUBREL = 6, MQTT_PUBCOMP = 7, MQTT_SUBSCRIBE = 8,
  MQTT_SUBACK = 9, MQTT_PINGREQ = 12, MQTT_PINGRESP = 13, MQTT_DISCONNECT = 14,
  MQTT_AUTH = 15,
};

/** protocol level byte in CONNECT: 4 = 3.1.1, 5 = 5.0 */
enum { MQTT_V311 = 4, MQTT_V5 = 5 };

/** upper bound of any CONNECT/SUBSCRIBE this program builds (ids and filters are short) */
#define MQTT_SMALL_MAX 1024

/** bytes written by varint encoding of n (1..4) */
int mqtt_varint_size(uint32_t n);
/** writes the varint; returns bytes written */
int mqtt_varint_put(uint8_t *dst, uint32_t n);
/**
 * Reads a varint from src[0..avail). Returns bytes used (1..4), 0 if more input
 * is needed, -1 if malformed (a fifth continuation byte).
 */
int mqtt_varint_get(const uint8_t *src, size_t avail, uint32_t *out);

/**
 * CONNECT. session_expiry is written (v5 only) when clean == 0 so a
 * persistent session outlives the connection as in 3.1.1.
 */
size_t mqtt_connect(uint8_t *dst, int version, const char *client_id, int clean,
                    uint16_t keepalive, uint32_t session_expiry);
/** SUBSCRIBE with one filter */
size_t mqtt_subscribe(uint8_t *dst, int version, uint16_t pid, const char *filter, int qos);
/** PUBACK / PUBREC / PUBREL / PUBCOMP: 4 bytes (reason code omitted = success in v5) */
size_t mqtt_ack(uint8_t *dst, int type, uint16_t pid);
size_t mqtt_pingreq(uint8_t *dst);
size_t mqtt_disconnect(uint8_t *dst);

/**
 * The fixed part of a PUBLISH up to and including the topic: header byte,
 * remaining length, topic. The caller appends [packet id] [v5 properties] payload.
 * Returns bytes written; body_len is the remaining length it encoded.
 */
size_t mqtt_publish_head(uint8_t *dst, int version, int qos, const char *topic,
                         size_t payload_len);

/** A PUBLISH as read from the wire: views into the read buffer. */
typedef struct {
  int qos;
  int dup;
  int retain;
  uint16_t pid;
  const uint8_t *topic;
  uint16_t topic_len;
  const uint8_t *payload;
  size_t payload_len;
} mqtt_publish_t;

/** Parses a PUBLISH body (after the fixed header). Returns 0, or -1 if malformed. */
int mqtt_publish_parse(uint8_t flags, const uint8_t *body, size_t len, int version,
                       mqtt_publish_t *out);

#endif
