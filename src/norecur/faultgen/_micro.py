"""The microservice app: a TrainTicket-like ticketing system (25 Spring services, MongoDB).

Requests enter at ``ts-ui-dashboard`` and fan out over HTTP: searching trips touches a dozen
services, logging in three. Every call leaves a CLIENT span in the caller and a SERVER span in the
callee (``http.response.status_code``), database work leaves a ``db.system.name=mongodb`` CLIENT
span. A failing callee makes its caller throw Spring's ``HttpServerErrorException`` (or
``ResourceAccessException`` after a read timeout), up to the root; nobody retries, as in the
original. Background noise: rare transient errors in any service, heavy-tailed latency.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from norecur.faultgen._http import JAVA_SERVER, call, fail, raise_from, serve
from norecur.faultgen._trace import CLIENT, SERVER, Failure, Scope, Span, Trace

__all__ = ["DATA_TARGETS", "DB_TARGETS", "DECOYS", "NAMESPACE", "SERVICES", "TARGETS", "build"]

NAMESPACE = "train-ticket"
MONGO = Scope("io.opentelemetry.mongo-3.1", "2.10.0-alpha")


@dataclass(frozen=True, slots=True)
class _Node:
    """One endpoint of one service and the calls its handler makes."""

    service: str
    method: str
    route: str
    db: tuple[str, str] | None = None
    """(operation, collection) of the MongoDB query the handler runs, if any."""
    calls: tuple[_Node, ...] = ()
    p: float = 1.0
    """Probability the caller makes this call at all."""
    self_ms: float = 3.0


def _n(
    service: str,
    method: str,
    route: str,
    db: tuple[str, str] | None = None,
    *calls: _Node,
    p: float = 1.0,
    self_ms: float = 3.0,
) -> _Node:
    return _Node(f"ts-{service}-service", method, route, db, calls, p, self_ms)


_STATION = _n(
    "station", "GET", "/api/v1/stationservice/stations/id/{stationNameForId}", ("find", "station")
)
_TRAIN = _n("train", "GET", "/api/v1/trainservice/trains/{id}", ("find", "trainType"))
_ROUTE = _n("route", "GET", "/api/v1/routeservice/routes/{routeId}", ("find", "routes"))
_PRICE = _n(
    "price", "GET", "/api/v1/priceservice/prices/{routeId}/{trainType}", ("find", "price_config")
)
_CONFIG = _n("config", "GET", "/api/v1/configservice/configs/{configName}", ("find", "config"))
_ORDER_TICKETS = _n("order", "POST", "/api/v1/orderservice/order/tickets", ("find", "orders"))
_SEAT = _n("seat", "POST", "/api/v1/seatservice/seats/left_tickets", None, _ORDER_TICKETS, _CONFIG)
_BASIC = _n(
    "basic", "POST", "/api/v1/basicservice/basic/travel", None, _STATION, _TRAIN, _ROUTE, _PRICE
)
_TICKETINFO = _n("ticketinfo", "POST", "/api/v1/ticketinfoservice/ticketinfo", None, _BASIC)
_USER = _n("user", "GET", "/api/v1/userservice/users/id/{userId}", ("find", "user"))

_ENDPOINTS: tuple[tuple[tuple[_Node, ...], int], ...] = (
    (
        (
            _n(
                "travel",
                "POST",
                "/api/v1/travelservice/trips/left",
                ("find", "trip"),
                _TICKETINFO,
                _n(
                    "seat",
                    "POST",
                    "/api/v1/seatservice/seats/left_tickets",
                    None,
                    _ORDER_TICKETS,
                    _CONFIG,
                    p=0.7,
                ),
                self_ms=5.0,
            ),
        ),
        30,
    ),
    (
        (
            _n(
                "auth",
                "POST",
                "/api/v1/users/login",
                ("find", "user"),
                _n("verification-code", "GET", "/api/v1/verifycode/verify/{verifyCode}"),
            ),
        ),
        12,
    ),
    ((_n("station", "GET", "/api/v1/stationservice/stations", ("find", "station")),), 8),
    (
        (
            _n("order", "POST", "/api/v1/orderservice/order/refresh", ("find", "orders")),
            _n(
                "order-other",
                "POST",
                "/api/v1/orderOtherService/orderOther/refresh",
                ("find", "orders_other"),
            ),
        ),
        14,
    ),
    (
        (
            _n(
                "preserve",
                "POST",
                "/api/v1/preserveservice/preserve",
                None,
                _n(
                    "security",
                    "GET",
                    "/api/v1/securityservice/securityConfigs/{accountId}",
                    ("find", "security_config"),
                    _n(
                        "order",
                        "GET",
                        "/api/v1/orderservice/order/security/{checkDate}/{accountId}",
                        ("find", "orders"),
                    ),
                ),
                _n("contacts", "GET", "/api/v1/contactservice/contacts/{id}", ("find", "contacts")),
                _n("travel", "POST", "/api/v1/travelservice/trip_detail", ("find", "trip")),
                _n("seat", "POST", "/api/v1/seatservice/seats", None, _CONFIG),
                _n("order", "POST", "/api/v1/orderservice/order", ("insert", "orders")),
                _n(
                    "assurance",
                    "POST",
                    "/api/v1/assuranceservice/assurances/{typeIndex}/{orderId}",
                    ("insert", "assurance"),
                    p=0.5,
                ),
                _n("food", "POST", "/api/v1/foodservice/orders", ("insert", "foodorder"), p=0.4),
                _USER,
                _n(
                    "notification",
                    "POST",
                    "/api/v1/notifyservice/notification/preserve_success",
                    p=0.8,
                ),
                self_ms=6.0,
            ),
        ),
        9,
    ),
    (
        (
            _n(
                "inside-payment",
                "POST",
                "/api/v1/inside_pay_service/inside_payment",
                ("find", "inside_payment"),
                _n("order", "GET", "/api/v1/orderservice/order/{orderId}", ("find", "orders")),
                _n("payment", "POST", "/api/v1/paymentservice/payment", ("insert", "payment")),
                _n(
                    "order",
                    "GET",
                    "/api/v1/orderservice/order/status/{orderId}/{status}",
                    ("update", "orders"),
                ),
            ),
        ),
        8,
    ),
    (
        (
            _n(
                "food",
                "GET",
                "/api/v1/foodservice/foods/{date}/{startStation}/{endStation}/{tripId}",
                ("find", "train_food"),
                _n(
                    "travel",
                    "GET",
                    "/api/v1/travelservice/routes/{tripId}",
                    ("find", "trip"),
                    _ROUTE,
                ),
                _STATION,
            ),
        ),
        8,
    ),
    (
        (
            _n(
                "consign",
                "GET",
                "/api/v1/consignservice/consigns/order/{id}",
                ("find", "consign_record"),
                _n(
                    "consign-price",
                    "GET",
                    "/api/v1/consignpriceservice/consignprice/{weight}/{isWithinRegion}",
                    ("find", "consign_price"),
                    p=0.6,
                ),
            ),
        ),
        5,
    ),
    (
        (
            _n(
                "contacts",
                "GET",
                "/api/v1/contactservice/contacts/account/{accountId}",
                ("find", "contacts"),
            ),
        ),
        6,
    ),
)
_WEIGHTS = [weight for _, weight in _ENDPOINTS]


def _services() -> dict[str, str]:
    names = ["ts-ui-dashboard"]

    def walk(node: _Node) -> None:
        if node.service not in names:
            names.append(node.service)
        for child in node.calls:
            walk(child)

    for entries, _ in _ENDPOINTS:
        for entry in entries:
            walk(entry)
    return dict.fromkeys(names, "java")


SERVICES = _services()
"""Service name -> language (all Java): the 25 services the requests reach."""
TARGETS = (
    "ts-travel-service",
    "ts-ticketinfo-service",
    "ts-basic-service",
    "ts-station-service",
    "ts-route-service",
    "ts-price-service",
    "ts-train-service",
    "ts-seat-service",
    "ts-config-service",
    "ts-order-service",
    "ts-auth-service",
    "ts-food-service",
)
"""Services a fault may be injected into (each serves a good share of requests)."""
DB_TARGETS = tuple(
    name
    for name in TARGETS
    if name not in ("ts-basic-service", "ts-ticketinfo-service", "ts-seat-service")
)
"""Targets that query a database themselves."""
DATA_TARGETS = (
    "ts-station-service",
    "ts-route-service",
    "ts-price-service",
    "ts-train-service",
    "ts-config-service",
)
"""Targets serving reference data that their callers deserialize."""
DECOYS = (
    *tuple(name for name in TARGETS if name != "ts-auth-service"),
    "ts-user-service",
    "ts-contacts-service",
)
"""Services a decoy anomaly may touch."""


def build(t: Trace) -> None:
    """One request through the ticketing system; sets ``t.ctx["root_tag"]``."""
    entries = t.rng.choices(_ENDPOINTS, weights=_WEIGHTS)[0][0]
    first = entries[0]
    root = t.open(
        None,
        "ts-ui-dashboard",
        f"{first.method} {first.route}",
        SERVER,
        JAVA_SERVER,
        {
            "http.request.method": first.method,
            "http.route": first.route,
            "url.path": first.route,
            "url.scheme": "http",
        },
    )
    t.work(0.8)
    failure: Failure | None = None
    for entry in entries:
        failure = _call(t, root, "ts-ui-dashboard", entry, timeout_ms=5000)
        if failure is not None:
            break
        t.ctx.pop("bad_payload", None)  # the dashboard only relays the payload
    t.work(0.5)
    if failure is not None:
        failure = raise_from(
            t,
            root,
            failure,
            "org.springframework.web.client.HttpServerErrorException$InternalServerError",
            f"500 Internal Server Error from {entries[0].service}",
            500 if failure.status is not None else 504,
        )
    root.attrs["http.response.status_code"] = failure.status if failure else 200
    t.close(root)
    t.ctx["root_tag"] = failure.tag if failure else None


def _call(
    t: Trace, parent: Span, caller: str, node: _Node, timeout_ms: float = 3000.0
) -> Failure | None:
    """``caller`` calls ``node`` (RestTemplate, no retries); a network-delay fault sits between
    the caller's CLIENT span and the callee's SERVER span, both ways."""
    delayed = (
        t.hit and t.ctx["kind"] == "upstream_network_delay" and node.service == t.ctx["target"]
    )

    def handler(t: Trace, client: Span) -> Failure | None:
        if delayed:
            t.wait(t.ctx["delay_ms"] * t.rng.uniform(0.35, 0.65))
        first = len(t.spans)
        failure = serve(
            t,
            client,
            node.service,
            node.method,
            node.route,
            lambda t, srv: _handle(t, srv, node),
            path=_path(node.route),
            java=True,
        )
        if delayed:
            t.origin(t.spans[first])
            t.wait(t.ctx["delay_ms"] * t.rng.uniform(0.35, 0.65))
        return failure

    return call(
        t,
        parent,
        caller,
        node.service,
        node.method,
        _path(node.route),
        handler,
        timeout_ms=timeout_ms,
        java=True,
    )


@functools.cache
def _path(route: str) -> str:
    """A concrete request path for ``route`` (placeholders filled in)."""
    return re.sub(r"\{[^}]+\}", "1", route)


def _handle(t: Trace, srv: Span, node: _Node) -> Failure | None:
    kind, target = t.ctx["kind"], t.ctx["target"]
    here = t.hit and node.service == target
    t.work(node.self_ms, 0.35)
    if here and kind == "upstream_service_exception":
        t.origin(srv)
        t.work(1.0)
        return fail(
            t,
            srv,
            "java.lang.NullPointerException",
            'Cannot invoke "java.util.List.get(int)" because "result" is null',
            "fault",
        )
    if here and kind == "upstream_cpu_contention":
        t.origin(srv)
    if node.db is not None:
        failure = _query(t, srv, node, here)
        if failure is not None:
            return failure
    for child in node.calls:
        if child.p < 1.0 and t.rng.random() >= child.p:
            continue
        failure = _call(t, srv, node.service, child)
        if failure is not None:
            if failure.status is None:
                etype = "org.springframework.web.client.ResourceAccessException"
                message = f'I/O error on {child.method} request for "http://{child.service}:8080{child.route}": Read timed out'
            else:
                etype = (
                    "org.springframework.web.client.HttpServerErrorException$InternalServerError"
                )
                message = f'{failure.status} : "{{"status":{failure.status},"error":"Internal Server Error","path":"{child.route}"}}"'
            return raise_from(t, srv, failure, etype, message)
        bad = t.ctx.pop("bad_payload", None)
        if bad is not None:
            t.origin(bad)
            message = (
                "JSON parse error: Cannot deserialize value of type `double` from String "
                '"N/A": not a valid `double` value'
            )
            return fail(
                t,
                srv,
                "org.springframework.http.converter.HttpMessageNotReadableException",
                message,
                "fault",
            )
        t.work(0.4)
    t.work(node.self_ms * 0.3, 0.35)
    return None


def _query(t: Trace, srv: Span, node: _Node, here: bool) -> Failure | None:
    assert node.db is not None
    kind = t.ctx["kind"]
    operation, collection = node.db
    reference = kind == "data_reference_table" and node.service == t.ctx["target"]
    if reference and t.exposed:
        collection = f"{collection}_{t.ctx['data_suffix']}"
    db = t.open(
        srv,
        node.service,
        f"{operation} ts.{collection}",
        CLIENT,
        MONGO,
        {
            "db.system.name": "mongodb",
            "db.namespace": "ts",
            "db.collection.name": collection,
            "db.operation.name": operation,
            "server.address": f"{node.service.removeprefix('ts-')}-mongo",
            "server.port": 27017,
        },
    )
    if here and kind == "upstream_db_error":
        t.origin(db)
        t.work(2.0)
        t.error(db, "com.mongodb.MongoSocketReadException", "Prematurely reached end of stream")
        t.close(db)
        return fail(
            t,
            srv,
            "org.springframework.data.mongodb.UncategorizedMongoDbException",
            "Prematurely reached end of stream; nested exception is com.mongodb.MongoSocketReadException",
            "fault",
        )
    if here and kind == "upstream_db_slow":
        t.origin(db)
        t.wait(t.rng.uniform(1500.0, 7000.0))
    t.work(2.2, 0.4)
    t.close(db)
    if reference and t.hit:
        t.ctx["bad_payload"] = srv
    return None
