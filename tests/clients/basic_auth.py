"""Confluent's Python Schema Registry client against a gateway that requires credentials.

Run by tests/all/confluent_clients.rs as `python basic_auth.py <base-url> <api-key>`: with
`basic.auth.user.info` set to the key's id and secret the client registers and reads a schema;
without it, and with a wrong secret, it gets 401. Any failed assertion exits non-zero.
"""
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

url, key = sys.argv[1], sys.argv[2]
key_id, secret = key.split(".", 1)
SCHEMA = '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}'

sr = SchemaRegistryClient({"url": url, "basic.auth.user.info": f"{key_id}:{secret}"})
sid = sr.register_schema("auth-value", Schema(SCHEMA, "AVRO"))
assert sr.get_schema(sid).schema_str.replace(" ", "") == SCHEMA.replace(" ", ""), sid

for conf in ({"url": url}, {"url": url, "basic.auth.user.info": f"{key_id}:wrong"}):
    try:
        SchemaRegistryClient(conf).get_subjects()
        raise AssertionError(f"served without valid credentials: {conf}")
    except SchemaRegistryError as e:
        assert e.http_status_code == 401, e
print("ok", sid)
