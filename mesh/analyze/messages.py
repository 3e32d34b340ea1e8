"""The findings `voting analyze` reports, with the codes and wording of `istioctl analyze`.

Codes and templates are Istio's (pkg/config/analysis/msg/messages.yaml), so a finding reads
the same locally and on a cluster; IST0113 is the mutual-TLS conflict check Istio had before
auto mTLS made it rare, kept because the local mesh's users meet it in the tutorial's steps.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "Error", "Warning", "Info"
LEVELS = {ERROR: 3, WARNING: 2, INFO: 1}


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    level: str
    template: str


SCHEMA_VALIDATION_ERROR = Kind(
    "IST0106", "SchemaValidationError", ERROR, "Schema validation error: {}"
)
REFERENCED_RESOURCE_NOT_FOUND = Kind(
    "IST0101", "ReferencedResourceNotFound", ERROR, 'Referenced {} not found: "{}"'
)
MTLS_POLICY_CONFLICT = Kind(
    "IST0113",
    "MTLSPolicyConflict",
    ERROR,
    "A DestinationRule and PeerAuthentication are in conflict: host {} uses TLS mode {} "
    "(DestinationRule {}) but its workloads require mutual TLS (PeerAuthentication {})",
)
PORT_NAME_NOT_UNDER_NAMING_CONVENTION = Kind(
    "IST0118",
    "PortNameIsNotUnderNamingConvention",
    INFO,
    "Port name {} (port: {}, targetPort: {}) doesn't follow the naming convention of Istio port.",
)
NO_MATCHING_WORKLOADS_FOUND = Kind(
    "IST0127",
    "NoMatchingWorkloadsFound",
    WARNING,
    "No matching workloads for this resource with the following labels: {}",
)
VIRTUAL_SERVICE_UNREACHABLE_RULE = Kind(
    "IST0130", "VirtualServiceUnreachableRule", WARNING, "VirtualService rule {} not used ({})."
)
VIRTUAL_SERVICE_INEFFECTIVE_MATCH = Kind(
    "IST0131",
    "VirtualServiceIneffectiveMatch",
    INFO,
    "VirtualService rule {} match {} is not used (duplicate/overlapping match in rule {}).",
)
VIRTUAL_SERVICE_HOST_NOT_FOUND_IN_GATEWAY = Kind(
    "IST0132",
    "VirtualServiceHostNotFoundInGateway",
    WARNING,
    "one or more host {} defined in VirtualService {} not found in Gateway {}.",
)
DESTINATION_RULE_SUBSET_NOT_SELECT_PODS = Kind(
    "IST0173",
    "DestinationRuleSubsetNotSelectPods",
    ERROR,
    "The Subset {} defined in the DestinationRule does not select any pods. "
    "Which may lead to 503 UH (NoHealthyUpstream).",
)
UNKNOWN_DESTINATION_RULE_HOST = Kind(
    "IST0174",
    "UnknownDestinationRuleHost",
    WARNING,
    'DestinationRule is for host "{}" but no Service or ServiceEntry with this hostname was found.',
)


@dataclass(frozen=True)
class Message:
    """One finding about one resource (`Kind namespace/name`, as istioctl names it)."""

    kind: Kind
    resource: str
    text: str

    def __str__(self) -> str:
        return f"{self.kind.level} [{self.kind.code}] ({self.resource}) {self.text}"


def message(kind: Kind, resource: str, *args: object) -> Message:
    return Message(kind, resource, kind.template.format(*args))
