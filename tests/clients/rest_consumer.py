"""The REST Proxy v2 consumer flow as Confluent documents it, with Confluent's own Avro
serializer and deserializer at both ends.

Run by tests/all/confluent_clients.rs as `python rest_consumer.py <base-url>`: serializes
records with confluent-kafka's AvroSerializer (which registers the schema), produces the wire
bytes through the proxy's binary format, then consumes them through two consumer instances
of one group (binary: the bytes go back through AvroDeserializer; avro: the proxy decodes),
commits, reads the committed offsets back (a GET with a body), seeks, and deletes the
instances. Any failed assertion exits non-zero.
"""
import base64
import json
import sys
import urllib.error
import urllib.request

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

url = sys.argv[1]
V2 = "application/vnd.kafka.v2+json"
BINARY = "application/vnd.kafka.binary.v2+json"
AVRO = "application/vnd.kafka.avro.v2+json"
SCHEMA = json.dumps({"type": "record", "name": "Reading", "fields": [
    {"name": "sensor", "type": "string"}, {"name": "celsius", "type": "double"}]})


def call(method, path, body=None, content_type=V2, accept=V2, expect=200):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(path if path.startswith("http") else url + path, data=data,
                                 method=method,
                                 headers={"content-type": content_type, "accept": accept})
    try:
        with urllib.request.urlopen(req) as resp:
            status, raw, ctype = resp.status, resp.read(), resp.headers.get("content-type")
    except urllib.error.HTTPError as e:
        status, raw, ctype = e.code, e.read(), e.headers.get("content-type")
    assert status == expect, (method, path, status, raw)
    return (json.loads(raw) if raw else None), ctype


readings = [{"sensor": f"s{i}", "celsius": 20.0 + i} for i in range(6)]
ctx = SerializationContext("readings", MessageField.VALUE)
key_ctx = SerializationContext("readings", MessageField.KEY)
ser = AvroSerializer(SchemaRegistryClient({"url": url}), SCHEMA)
key_ser = AvroSerializer(SchemaRegistryClient({"url": url}), '"string"')
de = AvroDeserializer(SchemaRegistryClient({"url": url}))
call("POST", "/v1/topics", {"name": "readings", "partitions": 2}, "application/json",
     "application/json", 201)
records = [{"key": base64.b64encode(key_ser(r["sensor"], key_ctx)).decode(),
            "value": base64.b64encode(ser(r, ctx)).decode(), "partition": i % 2}
           for i, r in enumerate(readings)]
produced, _ = call("POST", "/topics/readings", {"records": records}, BINARY)
assert [o["partition"] for o in produced["offsets"]] == [0, 1, 0, 1, 0, 1], produced

# Two instances of one group: the topic's two partitions are split between them.
created, _ = call("POST", "/consumers/dashboards",
                  {"name": "bin", "format": "binary", "auto.offset.reset": "earliest",
                   "auto.commit.enable": "false"})
assert created["instance_id"] == "bin", created
bin_uri = created["base_uri"]
assert bin_uri.endswith("/consumers/dashboards/instances/bin"), bin_uri
created, _ = call("POST", "/consumers/dashboards",
                  {"name": "dec", "format": "avro", "auto.offset.reset": "earliest",
                   "auto.commit.enable": "false"})
dec_uri = created["base_uri"]
for uri in (bin_uri, dec_uri):
    call("POST", uri + "/subscription", {"topics": ["readings"]}, expect=204)

got_bin, got_dec = [], []
for _ in range(50):
    batch, ctype = call("GET", bin_uri + "/records?timeout=1000", accept=BINARY)
    assert ctype == BINARY, ctype
    got_bin += batch
    batch, ctype = call("GET", dec_uri + "/records?timeout=1000", accept=AVRO)
    assert ctype == AVRO, ctype
    got_dec += batch
    if len(got_bin) + len(got_dec) == len(readings):
        break
assert got_bin and got_dec, (got_bin, got_dec)
assert {r["partition"] for r in got_bin}.isdisjoint({r["partition"] for r in got_dec})

# What the binary instance returns is the serializer's bytes: Confluent's deserializer reads
# them; the avro instance returns the same records already decoded.
decoded = [de(base64.b64decode(r["value"]), ctx) for r in got_bin]
decoded += [r["value"] for r in got_dec]
assert sorted(decoded, key=lambda r: r["sensor"]) == readings, decoded
for r in got_bin:
    key = de(base64.b64decode(r["key"]), key_ctx)
    assert key == de(base64.b64decode(r["value"]), ctx)["sensor"], r
for r in got_dec:
    assert r["key"] == r["value"]["sensor"], r

# Commit the last offset consumed; the group stores the next one, as Confluent's proxy does.
last = max(got_bin, key=lambda r: r["offset"])
commit = {"offsets": [{"topic": "readings", "partition": last["partition"],
                       "offset": last["offset"]}]}
call("POST", bin_uri + "/offsets", commit)
committed, _ = call("GET", bin_uri + "/offsets",
                    {"partitions": [{"topic": "readings", "partition": last["partition"]}]})
assert committed["offsets"] == [{"topic": "readings", "partition": last["partition"],
                                 "offset": last["offset"] + 1, "metadata": ""}], committed

# A seek to the beginning replays the instance's partition.
call("POST", bin_uri + "/positions/beginning",
     {"partitions": [{"topic": "readings", "partition": last["partition"]}]}, expect=204)
replayed, _ = call("GET", bin_uri + "/records?timeout=1000", accept=BINARY)
assert replayed and replayed[0]["offset"] == 0, replayed

# The wrong Accept is refused with Confluent's code, and a deleted instance is gone.
refused, _ = call("GET", bin_uri + "/records", accept=AVRO, expect=406)
assert refused["error_code"] == 40601, refused
for uri in (bin_uri, dec_uri):
    call("DELETE", uri, expect=204)
gone, _ = call("GET", bin_uri + "/records", accept=BINARY, expect=404)
assert gone["error_code"] == 40403, gone
print("ok", len(got_bin), len(got_dec))
