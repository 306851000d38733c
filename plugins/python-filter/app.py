"""Python twin of plugins/filter, built with componentize-py against ../../wit (world `transform`).

Keeps the records whose JSON value has a top-level field `config.field` equal to
`config.equals`; drops all others (tombstones and non-JSON values too). A string field is
compared with its content, any other JSON value with its compact JSON text.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types

_settings: tuple[str, str] | None = None


def _setting(config: list[tuple[str, str]], key: str) -> str:
    for k, v in config:
        if k == key:
            return v
    raise Err(f"missing required config `{key}`")


def _matches(value: bytes | None, field: str, equals: str) -> bool:
    if value is None:
        return False
    try:
        obj = json.loads(value)
    except ValueError:
        return False
    if not isinstance(obj, dict) or field not in obj:
        return False
    found = obj[field]
    if isinstance(found, str):
        return found == equals
    return json.dumps(found, separators=(",", ":")) == equals


class Config(exports.Config):
    def init(self, config: list[tuple[str, str]]) -> None:
        global _settings
        field, equals = _setting(config, "field"), _setting(config, "equals")
        if not field:
            raise Err("config `field` must not be empty")
        _settings = (field, equals)
        log.log(log.Level.DEBUG, f"python-filter: {field} == {equals}")


class Transformer(exports.Transformer):
    def transform(
        self, ctx: types.BatchContext, batch: list[types.InputRecord]
    ) -> list[types.OutputRecord]:
        if _settings is None:
            raise Err(types.TransformError_Fatal("init was not called"))
        field, equals = _settings
        return [
            types.OutputRecord(message=r.message, output=None)
            for r in batch
            if _matches(r.message.value, field, equals)
        ]
