"""Confluent's own Python client against Tidegate's Schema Registry API.

Run by tests/all/confluent_clients.rs as `python schema_registry.py <base-url>`: registers,
looks up, tests compatibility, sets config, then round-trips a record through the
AvroSerializer, Tidegate's native produce/fetch API and the AvroDeserializer, and decodes a
record produced through the REST Proxy v2 API with the same deserializer. Any failed
assertion exits non-zero.
"""
import base64
import json
import sys
import urllib.request

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

url = sys.argv[1]
SCHEMA = json.dumps({"type": "record", "name": "Payment", "fields": [
    {"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]})
V2 = json.dumps({"type": "record", "name": "Payment", "fields": [
    {"name": "id", "type": "string"}, {"name": "amount", "type": "double"},
    {"name": "note", "type": ["null", "string"], "default": None}]})
BROKEN = json.dumps({"type": "record", "name": "Payment", "fields": [
    {"name": "id", "type": "int"}]})


def native(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


sr = SchemaRegistryClient({"url": url})
sid = sr.register_schema("payments-value", Schema(SCHEMA, "AVRO"))
found = sr.lookup_schema("payments-value", Schema(SCHEMA, "AVRO"))
assert found.schema_id == sid and found.version == 1, found
assert sr.get_subjects() == ["payments-value"], sr.get_subjects()
assert sr.get_versions("payments-value") == [1]
latest = sr.get_latest_version("payments-value")
assert latest.schema_id == sid and json.loads(latest.schema.schema_str)["name"] == "Payment"

assert sr.test_compatibility("payments-value", Schema(V2, "AVRO")) is True
assert sr.test_compatibility("payments-value", Schema(BROKEN, "AVRO")) is False
try:
    sr.register_schema("payments-value", Schema(BROKEN, "AVRO"))
    raise AssertionError("an incompatible schema was registered")
except SchemaRegistryError as e:
    assert e.http_status_code == 409, e
try:
    sr.get_schema(4242)
    raise AssertionError("an unknown id was found")
except SchemaRegistryError as e:
    assert (e.http_status_code, e.error_code) == (404, 40403), e

sr.set_compatibility("payments-value", "FULL")
assert sr.get_compatibility("payments-value") == "FULL"

# The serializer auto-registers V2 (a fresh client: nothing cached); the deserializer
# fetches the writer's schema by the id in the record's prefix.
ser = AvroSerializer(SchemaRegistryClient({"url": url}), V2)
de = AvroDeserializer(SchemaRegistryClient({"url": url}))
ctx = SerializationContext("payments", MessageField.VALUE)
wire = ser({"id": "p1", "amount": 12.5, "note": "tip"}, ctx)
assert wire[0] == 0 and int.from_bytes(wire[1:5], "big") == sid + 1, wire.hex()

native("POST", "/v1/topics", {"name": "payments", "partitions": 1})
native("POST", "/v1/topics/payments/records",
       {"records": [{"value_base64": base64.b64encode(wire).decode()}]})
fetched = native("GET", "/v1/topics/payments/partitions/0/records?offset=0")
stored = base64.b64decode(fetched["records"][0]["value_base64"])
assert stored == wire, (stored.hex(), wire.hex())
assert de(stored, ctx) == {"id": "p1", "amount": 12.5, "note": "tip"}

# Confluent's REST Proxy v2: Avro in its JSON encoding (tagged union), schema given as text;
# Confluent's deserializer must read what the proxy stored.
native("POST", "/v1/topics", {"name": "payments-v2", "partitions": 1})
body = {"value_schema": V2, "records": [{"value": {"id": "p2", "amount": 3.5, "note": {"string": "v2"}}}]}
req = urllib.request.Request(url + "/topics/payments-v2", data=json.dumps(body).encode(), method="POST",
                             headers={"content-type": "application/vnd.kafka.avro.v2+json",
                                      "accept": "application/vnd.kafka.v2+json"})
with urllib.request.urlopen(req) as resp:
    assert resp.headers["content-type"] == "application/vnd.kafka.v2+json", resp.headers
    produced = json.loads(resp.read())
assert produced["value_schema_id"] == sid + 1, produced
assert produced["offsets"] == [{"partition": 0, "offset": 0, "error_code": None, "error": None}], produced
fetched = native("GET", "/v1/topics/payments-v2/partitions/0/records?offset=0")
stored = base64.b64decode(fetched["records"][0]["value_base64"])
v2_ctx = SerializationContext("payments-v2", MessageField.VALUE)
assert de(stored, v2_ctx) == {"id": "p2", "amount": 3.5, "note": "v2"}

versions = sr.delete_subject("payments-value")
assert versions == [1, 2], versions
assert sr.get_subjects() == ["payments-v2-value"], sr.get_subjects()
print("ok", sid, wire.hex())
