"""VirtualService: HTTP rules, their matches, destinations, retries, timeouts and faults.

Field semantics from istio/api networking/v1alpha3/virtual_service.proto; validation after
pkg/config/validation/validation.go; match semantics after
pilot/pkg/networking/core/route/route.go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.model.cors import CORS_SCHEMA, CorsPolicy, parse_cors
from mesh.model.errors import InvalidResource
from mesh.model.fields import (
    LEAF,
    STRING_MATCH_SCHEMA,
    StringMatch,
    labels,
    named_matches,
    parse_duration,
    string_match,
)
from mesh.model.http_actions import (
    DIRECT_RESPONSE_SCHEMA,
    HEADERS_SCHEMA,
    REDIRECT_SCHEMA,
    REWRITE_SCHEMA,
    DirectResponse,
    HeaderOperations,
    Redirect,
    Rewrite,
    check_rule_conflicts,
    parse_direct_response,
    parse_headers,
    parse_redirect,
    parse_rewrite,
)

DESTINATION_SCHEMA = {"host": LEAF, "subset": LEAF, "port": {"number": LEAF}}
SCHEMA = {
    "spec": {
        "hosts": LEAF,
        "gateways": LEAF,
        "http": [
            {
                "name": LEAF,
                "match": [
                    {
                        "name": LEAF,
                        "uri": STRING_MATCH_SCHEMA,
                        "scheme": STRING_MATCH_SCHEMA,
                        "method": STRING_MATCH_SCHEMA,
                        "authority": STRING_MATCH_SCHEMA,
                        "headers": {"*": STRING_MATCH_SCHEMA},
                        "withoutHeaders": {"*": STRING_MATCH_SCHEMA},
                        "queryParams": {"*": STRING_MATCH_SCHEMA},
                        "ignoreUriCase": LEAF,
                        "port": LEAF,
                        "sourceLabels": LEAF,
                        "sourceNamespace": LEAF,
                        "gateways": LEAF,
                        "statPrefix": LEAF,
                    }
                ],
                "route": [
                    {
                        "destination": DESTINATION_SCHEMA,
                        "weight": LEAF,
                        "headers": HEADERS_SCHEMA,
                    }
                ],
                "headers": HEADERS_SCHEMA,
                "mirror": DESTINATION_SCHEMA,
                "mirrorPercentage": {"value": LEAF},
                "mirrorPercent": LEAF,
                "mirrors": [{"destination": DESTINATION_SCHEMA, "percentage": {"value": LEAF}}],
                "rewrite": REWRITE_SCHEMA,
                "corsPolicy": CORS_SCHEMA,
                "redirect": REDIRECT_SCHEMA,
                "directResponse": DIRECT_RESPONSE_SCHEMA,
                "timeout": LEAF,
                "retries": {"attempts": LEAF, "perTryTimeout": LEAF, "retryOn": LEAF},
                "fault": {
                    "abort": {"percentage": {"value": LEAF}, "httpStatus": LEAF},
                    "delay": {"percentage": {"value": LEAF}, "fixedDelay": LEAF},
                },
            }
        ],
    }
}


@dataclass(frozen=True)
class HTTPMatch:
    """One `match` entry (HTTPMatchRequest): all of its conditions must hold."""

    uri: StringMatch | None = None
    headers: tuple[tuple[str, StringMatch], ...] = ()
    source_labels: tuple[tuple[str, str], ...] = ()
    gateways: tuple[str, ...] = ()
    name: str | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    without_headers: tuple[tuple[str, StringMatch], ...] = ()
    query_params: tuple[tuple[str, StringMatch], ...] = ()
    ignore_uri_case: bool = False
    port: int | None = None
    source_namespace: str | None = None
    stat_prefix: str | None = None
    resolved_gateways: tuple[str, ...] = ()
    """`gateways` as istiod resolves them (`mesh`, else `namespace/name`)."""

    @property
    def is_catch_all(self) -> bool:
        """Matches every request (route.go IsCatchAllRoute): `/` prefix or `.*`, nothing else."""
        uri_all = self.uri is None or (self.uri.kind, self.uri.value) in (
            ("prefix", "/"),
            ("regex", ".*"),
        )
        return uri_all and not (
            self.headers
            or self.without_headers
            or self.query_params
            or self.method
            or self.authority
            or self.scheme
        )

    def applies_to(self, labels: dict[str, str], gateways: set[str], namespace: str) -> bool:
        """Whether this entry is for the proxy at all (route.go sourceMatchHTTP).

        With `gateways`, only they count (sourceLabels are then not looked at); otherwise the
        proxy's labels must include `sourceLabels` and its namespace be `sourceNamespace`.
        """
        if self.gateways:
            return any(g in gateways for g in self.resolved_gateways)
        return all(labels.get(k) == v for k, v in self.source_labels) and (
            self.source_namespace in (None, namespace)
        )


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str | None
    port: int | None
    weight: int
    headers: HeaderOperations | None = None


@dataclass(frozen=True)
class Mirror:
    """A copy of each request (a `percent` share of them) sent to `destination`, its answer
    dropped (route.go applyHTTPRouteDestination: `mirror` with `mirrorPercentage`, or each of
    `mirrors`). `fraction` is Envoy's: per MILLION for a percentage, per HUNDRED for the
    deprecated integer `mirrorPercent` and the 100 % default (route.go MirrorPercent)."""

    destination: Destination
    numerator: int
    denominator: str  # "MILLION" or "HUNDRED"

    @property
    def percent(self) -> float:
        return self.numerator / (10_000 if self.denominator == "MILLION" else 1)


def _mirror_destination(data: Any, where: str) -> Destination:
    if not isinstance(data, dict) or not data.get("host"):
        raise InvalidResource(f"{where}: a mirror destination needs a host")
    port = (data.get("port") or {}).get("number")
    return Destination(host=data["host"], subset=data.get("subset"), port=port, weight=100)


def _percentage(data: Any, where: str) -> float:
    value = (data or {}).get("value", 0)
    if not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidResource(f"{where}: must be between 0 and 100 (it has {value!r})")
    return float(value)


def parse_mirrors(rule: dict[str, Any], where: str) -> tuple[Mirror, ...]:
    """virtualservice.go validateHTTPRoute / validateHTTPMirrors; route.go MirrorPercent and
    MirrorPercentByPolicy: absent means 100 %, an explicit 0 mirrors nothing."""
    single, several = rule.get("mirror"), rule.get("mirrors")
    if single is not None and several:
        raise InvalidResource(f"{where}: HTTP route cannot contain both mirror and mirrors")
    if single is None and ("mirrorPercentage" in rule or "mirrorPercent" in rule):
        field = "mirrorPercentage" if "mirrorPercentage" in rule else "mirrorPercent"
        raise InvalidResource(f"{where}.{field}: is for `mirror`, which this rule does not have")
    found = []
    if single is not None:
        dest = _mirror_destination(single, f"{where}.mirror")
        if "mirrorPercentage" in rule:
            percent = _percentage(rule["mirrorPercentage"], f"{where}.mirrorPercentage")
            found.append(Mirror(dest, round(percent * 10_000), "MILLION"))
        elif "mirrorPercent" in rule:
            whole = rule["mirrorPercent"]
            if not isinstance(whole, int) or not 0 <= whole <= 100:
                raise InvalidResource(f"{where}.mirrorPercent: must be 0-100 (it has {whole!r})")
            found.append(Mirror(dest, whole, "HUNDRED"))
        else:
            found.append(Mirror(dest, 100, "HUNDRED"))
    for index, entry in enumerate(several or []):
        at = f"{where}.mirrors[{index}]"
        if not isinstance(entry, dict) or entry.get("destination") is None:
            raise InvalidResource(f"{at}: destination is required for mirrors")
        dest = _mirror_destination(entry["destination"], f"{at}.destination")
        if "percentage" in entry:
            percent = _percentage(entry["percentage"], f"{at}.percentage")
            found.append(Mirror(dest, round(percent * 10_000), "MILLION"))
        else:
            found.append(Mirror(dest, 100, "HUNDRED"))
    return tuple(m for m in found if m.numerator > 0)


@dataclass(frozen=True)
class Fault:
    abort_percent: float = 0.0
    abort_status: int = 503
    delay_percent: float = 0.0
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Retries:
    attempts: int
    per_try_timeout: float | None
    retry_on: str | None


@dataclass(frozen=True)
class HTTPRoute:
    """One VirtualService `http` rule; rules are tried in order, first match wins."""

    name: str | None
    matches: tuple[HTTPMatch, ...]
    destinations: tuple[Destination, ...]
    timeout: float | None = None
    retries: Retries | None = None
    fault: Fault | None = None
    headers: HeaderOperations | None = None
    mirrors: tuple[Mirror, ...] = ()
    rewrite: Rewrite | None = None
    cors: CorsPolicy | None = None
    redirect: Redirect | None = None
    direct_response: DirectResponse | None = None


@dataclass(frozen=True)
class VirtualService:
    name: str
    hosts: tuple[str, ...]
    gateways: tuple[str, ...]
    http: tuple[HTTPRoute, ...]
    namespace: str = "voting"

    @property
    def applies_to_mesh(self) -> bool:
        return not self.gateways or "mesh" in self.gateways

    def bound_to(self, gateway: str) -> bool:
        """Whether this VirtualService is for `namespace/name` gateway (bare names: ours)."""
        return any((g if "/" in g else f"{self.namespace}/{g}") == gateway for g in self.gateways)


def _parse_match(entry: dict[str, Any], where: str, namespace: str) -> HTTPMatch:
    port = entry.get("port")
    if port is not None and (not isinstance(port, int) or not 0 < port <= 65535):
        raise InvalidResource(f"{where}.port: invalid port {port!r}")
    gateways = tuple(entry.get("gateways") or ())
    validate_gateway_names(gateways, f"{where}.gateways")

    def single(key: str) -> StringMatch | None:
        return string_match(entry[key], f"{where}.{key}") if entry.get(key) else None

    return HTTPMatch(
        uri=single("uri"),
        scheme=single("scheme"),
        method=single("method"),
        authority=single("authority"),
        headers=named_matches(entry.get("headers"), f"{where}.headers"),
        without_headers=named_matches(entry.get("withoutHeaders"), f"{where}.withoutHeaders"),
        query_params=named_matches(entry.get("queryParams"), f"{where}.queryParams", False),
        ignore_uri_case=bool(entry.get("ignoreUriCase", False)),
        port=port,
        source_labels=labels(entry.get("sourceLabels")),
        source_namespace=entry.get("sourceNamespace"),
        gateways=gateways,
        resolved_gateways=tuple(
            g if g == "mesh" or "/" in g else f"{namespace}/{g}" for g in gateways
        ),
        name=entry.get("name"),
        stat_prefix=entry.get("statPrefix"),
    )


def validate_gateway_names(names: tuple[str, ...], where: str) -> None:
    """`mesh`, `name` or `namespace/name` (validation.go validateGatewayNames)."""
    for name in names:
        parts = name.split("/")
        if len(parts) > 2 or not all(parts):
            raise InvalidResource(f"{where}: invalid gateway name {name!r}")


def parse_virtual_service(name: str, spec: dict[str, Any], namespace: str) -> VirtualService:
    rules = []
    for index, rule in enumerate(spec.get("http") or []):
        where = f"VirtualService {name}.{namespace}: spec.http[{index}]"
        matches = [
            _parse_match(entry, f"{where}.match[{i}]", namespace)
            for i, entry in enumerate(rule.get("match") or [])
        ]
        routes = rule.get("route") or []
        check_rule_conflicts(rule, where)
        destinations = tuple(
            Destination(
                host=r["destination"]["host"],
                subset=r["destination"].get("subset"),
                port=(r["destination"].get("port") or {}).get("number"),
                # route.go: a single destination takes all traffic, whatever its weight says
                weight=100 if len(routes) == 1 else int(r.get("weight", 0)),
                headers=parse_headers(r.get("headers"), f"{where}.route[{i}].headers"),
            )
            for i, r in enumerate(routes)
        )
        # validation.go validateHTTPRouteDestinations / validateWeight: weights are relative,
        # none negative, and only several destinations that all weigh 0 are refused.
        if any(int(r.get("weight", 0)) < 0 for r in routes):
            raise InvalidResource(f"{where}: a route weight must not be negative")
        if len(destinations) > 1 and sum(d.weight for d in destinations) == 0:
            raise InvalidResource(f"{where}: total destination weight = 0")
        retries = None
        if "retries" in rule:
            r = rule["retries"]
            retries = Retries(
                attempts=int(r.get("attempts", 0)),
                per_try_timeout=parse_duration(r["perTryTimeout"], where)
                if "perTryTimeout" in r
                else None,
                retry_on=r.get("retryOn"),
            )
        fault = None
        if "fault" in rule:
            f = rule["fault"]
            abort, delay = f.get("abort") or {}, f.get("delay") or {}
            fault = Fault(
                abort_percent=float((abort.get("percentage") or {}).get("value", 0)),
                abort_status=int(abort.get("httpStatus", 503)),
                delay_percent=float((delay.get("percentage") or {}).get("value", 0)),
                delay_seconds=parse_duration(delay["fixedDelay"], where)
                if "fixedDelay" in delay
                else 0.0,
            )
        rules.append(
            HTTPRoute(
                name=rule.get("name"),
                matches=tuple(matches),
                destinations=destinations,
                timeout=parse_duration(rule["timeout"], where) if "timeout" in rule else None,
                retries=retries,
                fault=fault,
                headers=parse_headers(rule.get("headers"), f"{where}.headers"),
                mirrors=parse_mirrors(rule, where),
                rewrite=parse_rewrite(rule.get("rewrite"), f"{where}.rewrite"),
                cors=parse_cors(rule.get("corsPolicy"), f"{where}.corsPolicy"),
                redirect=parse_redirect(
                    rule.get("redirect"),
                    f"{where}.redirect",
                    [m.uri.kind if m.uri else None for m in matches],
                ),
                direct_response=parse_direct_response(
                    rule.get("directResponse"), f"{where}.directResponse"
                ),
            )
        )
    return VirtualService(
        name=name,
        hosts=tuple(spec.get("hosts") or ()),
        gateways=tuple(spec.get("gateways") or ()),
        http=tuple(rules),
        namespace=namespace,
    )
