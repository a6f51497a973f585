"""A 3.1.1 paho publisher with 64 QoS 2 messages in flight (max_inflight_messages_set(64)),
more than the broker's max_inflight_messages: publishes N messages and prints one JSON line with
how many completed (on_publish) and how often it was disconnected.
usage: inflight.py PORT N"""
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt

port, total = int(sys.argv[1]), int(sys.argv[2])
completed, disconnects, done = [0], [0], threading.Event()


def make(client_id):
    try:  # paho 2.x wants the callback API version
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=client_id, protocol=mqtt.MQTTv311)
    except AttributeError:
        return mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)


def on_publish(_c, _u, _mid):
    completed[0] += 1
    if completed[0] == total:
        done.set()


def on_disconnect(_c, _u, _rc):
    disconnects[0] += 1


pub = make("paho-inflight")
pub.max_inflight_messages_set(64)
pub.max_queued_messages_set(0)
pub.on_publish = on_publish
pub.on_disconnect = on_disconnect
pub.connect("127.0.0.1", port)
pub.loop_start()
for i in range(total):
    pub.publish("paho/inflight", str(i), qos=2)
done.wait(60)
print(json.dumps({"completed": completed[0], "disconnects": disconnects[0]}))
pub.disconnect()
pub.loop_stop()
