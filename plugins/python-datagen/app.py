"""Python twin of plugins/datagen (template `orders` only), built with componentize-py against
../../wit (world `source-connector`).

Config (the same keys as the Rust `datagen`):

* `template`: `orders` (the default, and the only one here);
* `rate`: records per second (default 10; `0` = as many as the host asks for per poll);
* `max.records` (optional): the total number of records, counted across restarts; once
  reached, polls return nothing;
* `seed` (default 1): any whole number >= 0.

Record number `n` (0-based, counted across restarts through the committed offset) is a pure
function of (`seed`, `n`), generated exactly as the Rust `datagen` does (splitmix64 seeded with
`mix(seed ^ mix(n))`, the same tables, the same draws in the same order), so the two emit the
same keys, values and positions record for record; only the timestamps (the wall clock at the
poll) differ. Value: compact JSON with sorted keys (`value-json`), e.g.
`{"country":"DE","currency":"EUR","customer_id":"c-01234","order_id":"o-00000042",
"price":"189.90","product":"monitor","quantity":2}`; key: the order id as a JSON string
(`key-json`). Position: source partition `{"generator":"datagen","template":"orders"}`, offset
`{"seq":<n + 1>}`; `open` resumes at the committed `seq`.

Rate: on each poll, floor(ms since open * rate / 1000) minus the records emitted since open
are due (monotonic clock), capped by the poll's `max_records` and by `max.records`.
"""

import json
import re
import time
from dataclasses import dataclass

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import source, validate
from wit_world.imports import connector_types, log, types

U64 = (1 << 64) - 1
_WHOLE = re.compile(r"[0-9]+")

# Product and list price in cents (as in plugins/datagen).
PRODUCTS = [
    ("keyboard", 7_900),
    ("monitor", 18_900),
    ("mouse", 2_900),
    ("laptop", 119_900),
    ("headset", 8_900),
    ("webcam", 5_900),
    ("dock", 14_900),
    ("cable", 1_290),
]
# Country and its currency.
MARKETS = [
    ("DE", "EUR"),
    ("FR", "EUR"),
    ("NL", "EUR"),
    ("ES", "EUR"),
    ("US", "USD"),
    ("GB", "GBP"),
    ("CA", "CAD"),
    ("CH", "CHF"),
]


def _compact(value: object) -> str:
    """Compact JSON with sorted keys: what serde_json writes for the Rust datagen."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


PARTITION = _compact({"generator": "datagen", "template": "orders"})


def _mix(z: int) -> int:
    """One step of splitmix64."""
    z = (z + 0x9E3779B97F4A7C15) & U64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
    return z ^ (z >> 31)


class _Dice:
    """The random numbers of one record."""

    def __init__(self, seed: int, n: int) -> None:
        self.state = _mix(seed ^ _mix(n))

    def roll(self, below: int) -> int:
        self.state = _mix(self.state)
        return self.state % below if below > 0 else 0

    def pick(self, items: list):
        return items[self.roll(len(items))]


def generate(seed: int, n: int) -> tuple[str, str]:
    """Order number `n`: its id and its value as compact JSON."""
    d = _Dice(seed, n)
    order_id = f"o-{n:08d}"
    customer = d.roll(10_000)
    product, list_cents = d.pick(PRODUCTS)
    quantity = 1 + d.roll(4)
    # +-10 % around the list price.
    cents = list_cents - list_cents // 10 + d.roll(list_cents // 5 + 1)
    country, currency = d.pick(MARKETS)
    value = {
        "order_id": order_id,
        "customer_id": f"c-{customer:05d}",
        "product": product,
        "quantity": quantity,
        "price": f"{cents // 100}.{cents % 100:02d}",
        "currency": currency,
        "country": country,
    }
    return order_id, _compact(value)


def _config_get(config: list[tuple[str, str]], key: str) -> str | None:
    """The last value of `key`, trimmed; None if absent or blank."""
    for k, v in reversed(config):
        if k == key:
            v = v.strip()
            return v or None
    return None


@dataclass
class _Settings:
    rate: int
    max_records: int | None
    seed: int


def _parse(config: list[tuple[str, str]]) -> tuple[_Settings, list[validate.FieldError]]:
    """The settings, and a field error for everything wrong with the config."""
    errors: list[validate.FieldError] = []
    template = _config_get(config, "template") or "orders"
    if template != "orders":
        errors.append(
            validate.FieldError(
                "template",
                f"'{template}': the Python datagen has only `orders` "
                "(the Rust datagen also has users and pageviews)",
            )
        )

    def number(key: str, what: str, default: int | None) -> int | None:
        text = _config_get(config, key)
        if text is None:
            return default
        if _WHOLE.fullmatch(text) and int(text) <= U64:
            return int(text)
        errors.append(validate.FieldError(key, f"'{text}': must be {what}"))
        return default

    rate = number("rate", "a whole number of records per second >= 0", 10)
    max_records = number("max.records", "a whole number of records >= 0", None)
    seed = number("seed", "a whole number >= 0", 1)
    return _Settings(rate or 0, max_records, seed or 0), errors


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


@dataclass
class _State:
    settings: _Settings
    next: int
    opened_ms: int
    emitted_since_open: int = 0

    def due(self, max_records: int) -> int:
        due = max_records
        if self.settings.rate > 0:
            elapsed = max(0, _monotonic_ms() - self.opened_ms)
            allowed = elapsed * self.settings.rate // 1000
            due = min(due, max(0, allowed - self.emitted_since_open))
        if self.settings.max_records is not None:
            due = min(due, max(0, self.settings.max_records - self.next))
        # `seq` is `n + 1`, a u64: the last number is never generated.
        return max(0, min(due, U64 - self.next))


_state: _State | None = None


def _committed_seq(committed: list[connector_types.SourceOffset]) -> int:
    """The committed `seq` of the orders partition, 0 if none."""
    for offset in reversed(committed):
        if offset.partition != PARTITION:
            continue
        try:
            seq = json.loads(offset.offset).get("seq")
        except (ValueError, AttributeError):
            continue
        if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= U64:
            return seq
    return 0


class Validate(exports.Validate):
    def validate(self, config: list[tuple[str, str]]) -> list[validate.FieldError]:
        return _parse(config)[1]


class Source(exports.Source):
    def open(
        self, config: list[tuple[str, str]], committed: list[connector_types.SourceOffset]
    ) -> None:
        global _state
        settings, errors = _parse(config)
        if errors:
            raise Err("; ".join(f"{e.field}: {e.message}" for e in errors))
        _state = _State(settings, _committed_seq(committed), _monotonic_ms())
        log.log(
            log.Level.DEBUG,
            f"python-datagen: orders from seq {_state.next}, rate {settings.rate}/s",
        )

    def poll(self, max_records: int) -> list[source.SourceRecord]:
        st = _state
        if st is None:
            raise Err(connector_types.ConnectorError_Fatal("poll before open"))
        timestamp = time.time_ns() // 1_000_000
        encoding = types.Encoding.KEY_JSON | types.Encoding.VALUE_JSON
        out = []
        for _ in range(st.due(max_records)):
            n = st.next
            order_id, value = generate(st.settings.seed, n)
            out.append(
                source.SourceRecord(
                    message=types.Message(
                        key=_compact(order_id).encode(),
                        value=value.encode(),
                        headers=[],
                        timestamp=timestamp,
                        encoding=encoding,
                    ),
                    position=connector_types.SourceOffset(
                        partition=PARTITION, offset=_compact({"seq": n + 1})
                    ),
                )
            )
            st.next = n + 1
            st.emitted_since_open += 1
        return out

    def commit(self, offsets: list[connector_types.SourceOffset]) -> None:
        pass

    def close(self) -> None:
        pass
