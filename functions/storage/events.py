"""The votes storage accepts: CloudEvents 1.0 in HTTP binary mode.

This module is the contract between vote (the producer, `encode`) and storage (the
consumer, `decode`). The event id is the idempotency key: storage counts an id once.

    ce-type: com.azure.samples.voting.vote.cast    data: {"option": "Cats"}
    ce-type: com.azure.samples.voting.votes.reset  data: none
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cloudevents.core.bindings.http import HTTPMessage, from_binary_event, to_binary_event
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent

from functions.runtime.errors import InvalidInput

VOTE_CAST = "com.azure.samples.voting.vote.cast"
VOTES_RESET = "com.azure.samples.voting.votes.reset"

MAX_ID_LENGTH = 128
MAX_OPTION_LENGTH = 64
_REQUIRED_HEADERS = ("ce-id", "ce-source", "ce-type", "ce-specversion")


@dataclass(frozen=True, slots=True)
class VoteCast:
    """One vote for `option`, counted once per `event_id`."""

    event_id: str
    option: str


@dataclass(frozen=True, slots=True)
class VotesReset:
    """Set every count back to zero, once per `event_id`."""

    event_id: str


VoteCommand = VoteCast | VotesReset


def encode(command: VoteCommand, source: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of the binary-mode CloudEvent for `command`."""
    attributes = {"id": command.event_id, "source": source}
    if isinstance(command, VoteCast):
        attributes |= {"type": VOTE_CAST, "datacontenttype": "application/json"}
        event = CloudEvent(attributes, {"option": command.option})
    else:
        attributes["type"] = VOTES_RESET
        event = CloudEvent(attributes)
    message = to_binary_event(event)
    return message.headers, message.body


def decode(headers: Mapping[str, str], body: bytes) -> VoteCommand:
    """The command a binary-mode CloudEvent carries; InvalidInput names what is wrong."""
    lowered = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in _REQUIRED_HEADERS if not lowered.get(name, "").strip()]
    if missing:
        raise InvalidInput("not a binary-mode CloudEvent: missing header " + ", ".join(missing))
    if lowered["ce-specversion"] != "1.0":
        raise InvalidInput("unsupported CloudEvents specversion (expected 1.0)")
    message = HTTPMessage(headers=lowered, body=body)
    try:
        event = from_binary_event(message)
    except (BaseCloudEventException, ValueError, TypeError) as exc:
        raise InvalidInput(f"invalid CloudEvent: {exc}") from exc
    event_id = event.get_id()
    if len(event_id) > MAX_ID_LENGTH:
        raise InvalidInput(f"CloudEvent id longer than {MAX_ID_LENGTH} characters")
    kind = event.get_type()
    if kind == VOTES_RESET:
        return VotesReset(event_id)
    if kind != VOTE_CAST:
        raise InvalidInput(f"unknown CloudEvent type (expected {VOTE_CAST} or {VOTES_RESET})")
    data = event.get_data()
    option = data.get("option") if isinstance(data, dict) else None
    if not isinstance(option, str) or not option.strip():
        raise InvalidInput('vote data must be a JSON object like {"option": "Cats"}')
    if len(option) > MAX_OPTION_LENGTH:
        raise InvalidInput(f"option longer than {MAX_OPTION_LENGTH} characters")
    if option != option.strip():
        # MySQL compares VARCHARs ignoring trailing spaces: "Cats " would count as "Cats".
        raise InvalidInput("option must not start or end with white space")
    try:
        option.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a JSON \ud800 escape
        raise InvalidInput("option must be valid Unicode text") from exc
    return VoteCast(event_id, option)
