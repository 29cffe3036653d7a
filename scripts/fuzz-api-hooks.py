"""Schemathesis hooks for `npm run fuzz:api` (scripts/fuzz-api.ts loads them via SCHEMATHESIS_HOOKS).

The OpenAPI document states every rule JSON Schema can state (types, formats, patterns, enums,
bounds). A few documented rules relate fields to each other or bound a value written with a
unit, which JSON Schema cannot say:

  - Klarna's market rules (contracts/klarna-market-rules.ts, docs/flows.md "Validation before
    start"): purchase_currency is the market's currency; a line's total_amount is quantity x
    unit_price - total_discount_amount, its total_tax_amount matches its tax_rate; order_amount and
    order_tax_amount are the lines' sums; the billing / shipping country is the purchase country;
  - without an Idempotency-Key header, merchant_reference is the key, so it must be one;
  - `time_zone` is an IANA time zone (the list is the runtime's); a subscription's `billing_anchor`
    is at most 366 days in the past;
  - a path's flow id is one of that route's flow type (the stateful phase carries ids found in one
    answer, e.g. GET /v1/flows, into other routes without checking them against their pattern);
  - bounded durations (`abandonment_timeout` 1s-7d, `retry_deadline` 1s-24h, `wait` at most 30s,
    a step-up's `shopper_timeout` 1m-24h) take a unit, so their bounds are in their descriptions,
    not in their pattern; a step-up's `hpp` settings go only with `integration: "hpp"`; a long
    poll's `?wait` is kept under schemathesis' response time limit (10 s);
  - Klarna v2 (contracts/v2.ts): `request_customer_token` needs `use_case` or `scopes`; an
    authorization asks for a token or a purchase (or both); a v2 charge's `step_up` goes only with
    `customer_present: true`.

Schema-valid data that breaks one of them is refused with a 400 naming the field, as documented.
So that the positive test cases test what they claim (valid data is accepted), this hook turns
each *positive* test case, just before it is sent, into one that also keeps these rules, changing only the fields
they involve. Negative cases are left alone, and no check is switched off.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import schemathesis
from schemathesis import GenerationMode

# contracts/klarna-market-rules.ts, klarnaMarketCurrencies (one local currency each).
MARKETS = {
    "AT": "EUR", "AU": "AUD", "BE": "EUR", "CA": "CAD", "CH": "CHF", "CZ": "CZK", "DE": "EUR",
    "DK": "DKK", "ES": "EUR", "FI": "EUR", "FR": "EUR", "GB": "GBP", "GR": "EUR", "HU": "HUF",
    "IE": "EUR", "IT": "EUR", "MX": "MXN", "NL": "EUR", "NO": "NOK", "NZ": "NZD", "PL": "PLN",
    "PT": "EUR", "RO": "RON", "SE": "SEK", "SK": "EUR", "US": "USD",
}
CURRENCY_MARKET = {currency: country for country, currency in reversed(list(MARKETS.items()))}
TIME_ZONES = __import__("zoneinfo").available_timezones()
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# The widest range every bounded duration takes: 1 s to 30 s.
DURATION_FIELDS = ("abandonment_timeout", "retry_deadline", "wait")


def _duration_ms(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = DURATION.match(str(value))
    return float(match.group(1)) * UNITS[match.group(2) or "ms"] if match else None


def _bounded_duration(value: Any, max_s: int = 30) -> Any:
    ms = _duration_ms(value)
    if ms is not None and 1000 <= ms <= max_s * 1000:
        return value
    return f"{int(ms or 0) % max_s + 1}s"


def _keep_v2_rules(path: str, body: dict[str, Any]) -> None:
    token = body.get("request_customer_token")
    if isinstance(token, dict) and "use_case" not in token and "scopes" not in token:
        token["use_case"] = "subscription"
    if path == "/v2/authorizations" and "request_payment_transaction" not in body and "request_customer_token" not in body:
        body["request_customer_token"] = {"use_case": "subscription"}
    if path == "/v2/charges" and body.get("customer_present") is not True and "step_up" in body:
        del body["step_up"]


def _keep_market_rules(body: dict[str, Any]) -> None:
    country = body.get("purchase_country")
    currency = body.get("purchase_currency")
    if isinstance(country, str) or "purchase_country" in body:
        if country not in MARKETS:
            country = CURRENCY_MARKET.get(currency) or sorted(MARKETS)[len(str(country)) % len(MARKETS)]
            body["purchase_country"] = country
        if "purchase_currency" in body:
            body["purchase_currency"] = MARKETS[country]
    elif isinstance(currency, str) and currency not in CURRENCY_MARKET:
        body["purchase_currency"] = "SEK"
    for address in ("billing_address", "shipping_address"):
        if isinstance(body.get(address), dict) and "country" in body[address] and isinstance(country, str):
            body[address]["country"] = country

    lines = body.get("order_lines")
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        return
    total = tax = 0
    has_tax = False
    for line in lines:
        # Lines worth something (an order amount must be above 0), and with tax, enough for the
        # rounded tax to show its rate within Klarna's 1-point tolerance.
        quantity = max(1, int(line.get("quantity", 1)))
        unit_price = max(10_000 if "total_tax_amount" in line else 1, abs(int(line.get("unit_price", 1))))
        gross = quantity * unit_price
        discount = min(abs(int(line.get("total_discount_amount", 0))), gross - (10_000 if "total_tax_amount" in line else 1))
        line.update(quantity=quantity, unit_price=unit_price, total_amount=gross - discount)
        if "total_discount_amount" in line:
            line["total_discount_amount"] = discount
        if "total_tax_amount" in line:
            rate = int(line.get("tax_rate", 0))
            line["total_tax_amount"] = round(line["total_amount"] * rate / (10_000 + rate))
            if "tax_rate" not in line:
                line["total_tax_amount"] = 0
            has_tax = True
            tax += line["total_tax_amount"]
        total += line["total_amount"]
    if "order_amount" in body:
        body["order_amount"] = total
    if "order_tax_amount" in body:
        body["order_tax_amount"] = tax if has_tax else 0


def _fit_path_ids(case: Any) -> None:
    """A flow id from another flow type, carried in by a stateful link, gets this route's prefix."""
    raw = getattr(case.operation.definition, "raw", {}) or {}
    for parameter in raw.get("parameters", []):
        if parameter.get("in") != "path" or not isinstance(case.path_parameters, dict):
            continue
        name, pattern = parameter.get("name"), (parameter.get("schema") or {}).get("pattern")
        value = case.path_parameters.get(name)
        # `^prefix-[...]` or `^(first-|second-)[...]` (the first alternative is used).
        prefix = re.match(r"^\^\(?([a-z0-9-]+-)[|)\[]", pattern or "")
        if isinstance(value, str) and pattern and prefix and not re.search(pattern, value):
            suffix = re.sub(r"^(v2-)?[a-z]+(-[a-z]+)*-", "", value)
            case.path_parameters[name] = prefix.group(1) + (re.sub(r"[^A-Za-z0-9._:-]", "", suffix)[:128] or "0")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # Right before the request goes out: after generation, examples, overlays and stateful links.
    meta = getattr(case, "meta", None)
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    if isinstance(case.body, dict):
        _keep_market_rules(case.body)
        if "billing_anchor" in case.body:
            case.body["billing_anchor"] = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        if isinstance(case.body.get("time_zone"), str) and case.body["time_zone"] not in TIME_ZONES:
            case.body["time_zone"] = "Europe/Stockholm"
        for field in DURATION_FIELDS:
            if field in case.body:
                case.body[field] = _bounded_duration(case.body[field])
        # Step-up recovery (contracts/step-up.ts): shopper_timeout 1m-24h; hpp settings only with
        # integration "hpp".
        if "shopper_timeout" in case.body:
            case.body["shopper_timeout"] = "30m"
        if case.body.get("integration") != "hpp" and "hpp" in case.body:
            del case.body["hpp"]
        _keep_v2_rules(getattr(case.operation, "path", ""), case.body)
        headers = case.headers or {}
        reference = case.body.get("merchant_reference")
        has_key = any(name.lower() == "idempotency-key" for name in headers)
        if isinstance(reference, str) and not has_key and not IDEMPOTENCY_KEY.match(reference.strip()):
            case.headers = {**headers, "idempotency-key": "fuzz-" + str(abs(hash(reference)))}
    _fit_path_ids(case)
    if isinstance(case.query, dict) and "wait" in case.query:
        case.query["wait"] = _bounded_duration(case.query["wait"], 8)
    # Have schemathesis check the case against the document again before it judges the answer:
    # a value the stateful phase carried over from another operation's answer (e.g. a charge's
    # flow id into a tokenization's path) may not fit this operation, and is then a negative case.
    private_meta = getattr(case, "_meta", None)
    if private_meta is not None:
        for location in list(private_meta.components):
            private_meta.mark_dirty(location)
