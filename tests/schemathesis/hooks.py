"""Roster's own schemathesis checks, loaded through SCHEMATHESIS_HOOKS (see run.sh).

Schemathesis's positive_data_acceptance fails whenever a request that fits the schema is
refused. Some refusals follow from rules that no OpenAPI schema can state: the data a
request names must exist in the organization (a member id, a guest cursor), a name must
be unique, an image must decode, an If-Match version must still be current. This check
runs the built-in one and forgives exactly those refusals, recognised by their messages;
any other refusal of schema-valid data still fails the run.

negative_data_rejection has a blind spot of its own: the path parameters are pinned to
the seeded resources (schemathesis.toml), so when it sets out to break one of them the
pinned, valid value is what gets sent, and the answer (rightly a 200) is counted as
invalid data accepted. It also counts an unknown query parameter, which Roster ignores
as every HTTP API does, as invalid data, and now and then labels a case drawn from a
valid-value scenario as negative. The wrapper below forgives exactly those cases.

run.sh excludes both built-in checks (`--exclude-checks`) so that these take their place.
"""

import base64
import itertools
import os
import re
import urllib.parse

import schemathesis
from hypothesis import strategies as st
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

# 422 messages of rules beyond a schema, by field.
BEYOND_THE_SCHEMA = [
    re.compile(pattern)
    for pattern in (
        # Names nobody in the organization (or a disabled guest, or a member's email).
        r"^The selected (members|guests|add|remove|associated members)\.\d+ is invalid\.$",
        r"^The (guests|add)\.\d+ is (a member|a disabled guest) of this organization",
        r"^The (name|email) has already been taken\.$",
        r"^The email belongs to (a member|a guest) of this organization",
        r"^The remove\.\d+ is also being added\.$",
        # An Idempotency-Key names the first request made with it.
        r"^The Idempotency-Key was already used with a different request\.$",
        r"^The add and remove lists may hold at most 1000 entries together\.$",
        # A guest cursor is valid only as issued in meta.next_cursor.
        r"^The cursor is invalid\.$",
        # An upload's bytes must be an image of a supported kind and size.
        r"^The file ",
        # Event type filters must name an event type; times are UTC date-times.
        r"^The types? entry .* names no event type\.$",
        r"^The event_types\.\d+ .* names no event type\.$",
        # A webhook's URL must be one Roster can send to: absolute https (unless the
        # operator allows http), no credentials or fragment, a host that resolves to
        # public addresses. A pattern cannot say which strings parse as such a URL.
        r"^The url must (be an absolute https URL|use https|not contain spaces|not have a fragment|not carry credentials|name a valid host and port)",
        r"^The host .* (does not resolve|which this server does not send to)\.$",
        # A webhook replays from a feed cursor, valid only as the feed issued it.
        r"^The after must be a cursor of this organization's feed\.$",
        r"^The (since|until|expiring_before) must be a UTC date-time",
        # A membership's end must be a UTC date-time in the next ten years.
        r"^The (add|remove)\.\d+\.expires_at (must be a UTC date-time|must be a time in the future\.$|may be at most 10 years ahead\.$)",
        # A restore under a name another group took meanwhile.
        r"^The name has been taken by another group since this one was deleted",
        r"^The order must be asc or desc\.$",
    )
]

# 400s for change stream cursors, which are valid only as issued.
STREAM_CURSORS = re.compile(
    r"^The cursor (is not valid|belongs to another organization|is ahead of the organization's stream)\.$"
)

# 400s for business rules on people that no schema states (the default admin, the last
# admin).
BUSINESS_RULES = re.compile(
    r"^The organization's default administrator cannot be"
    r"|^An organization must keep at least one active administrator\.$"
)


def forgiven(case, response) -> bool:
    status = response.status_code
    if status == 412:
        return any(name.lower() == "if-match" for name in (case.headers or {}))
    try:
        body = response.json()
    except ValueError:
        return False
    if status == 422:
        messages = [m for ms in (body.get("errors") or {}).values() for m in ms]
        return bool(messages) and all(
            any(p.search(m) for p in BEYOND_THE_SCHEMA) for m in messages
        )
    if status == 400:
        message = body.get("message", "")
        if message == "The request body must be a JSON object." and case.body is None:
            # An optional body left out, which schemathesis sends as the JSON `null` (a
            # value no object schema admits).
            return True
        if message == "The multipart body could not be read.":
            # A part name with control characters cannot be written in a part's header
            # (RFC 7578 quotes it as an HTTP quoted-string, which excludes them): the
            # request schemathesis meant is not the one it could send.
            parts = case.body if isinstance(case.body, dict) else {}
            return any(re.search(r"[\x00-\x1f\x7f]", name) for name in parts)
        return bool(BUSINESS_RULES.search(message) or STREAM_CURSORS.search(message))
    return False


@schemathesis.check
def positive_data_acceptance_beyond_the_schema(ctx, response, case):
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if forgiven(case, response):
            return None
        raise


# The values run.sh seeds and schemathesis.toml pins, by path parameter.
PINNED = {
    name: os.environ.get(variable, "")
    for name, variable in (
        ("org", "ROSTER_ORG"),
        ("group", "ROSTER_GROUP"),
        ("user", "ROSTER_USER"),
        ("email", "ROSTER_GUEST"),
    )
}


# Coverage scenarios that draw valid values: a case labelled with one of them (or
# described as a "positive test case") was never negative. Seen on multipart uploads whose
# every part was valid as sent.
VALID_SCENARIOS = {"valid_object", "valid_string", "valid_number", "valid_boolean", "valid_array"}


def only_unbreakable_parameters_were_broken(case) -> bool:
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    if str(getattr(data, "scenario", "")) in VALID_SCENARIOS:
        return True
    if (getattr(data, "description", "") or "").lower() == "positive test case":
        return True
    location = getattr(data, "parameter_location", None)
    # Unknown query parameters are ignored, as by every HTTP API.
    if (
        location is not None
        and location.name.lower() == "query"
        and any(
            words in (getattr(data, "description", "") or "")
            for words in ("unexpected properties", "additionalProperties")
        )
    ):
        return True
    if location is None or location.name.lower() != "path":
        return False
    names = [data.parameter] if getattr(data, "parameter", None) else [
        m.parameter for m in getattr(data, "mutations", ()) if m.parameter
    ]
    sent = case.path_parameters or {}
    return bool(names) and all(
        name in PINNED
        and str(sent.get(name)) in (PINNED[name], urllib.parse.unquote(PINNED[name]))
        for name in names
    )


def trimmed_to_fit(case) -> bool:
    """A string made too long by surrounding whitespace, which Roster trims before it
    measures, as Tallyfy's Laravel back end does (so the value sent was within bounds)."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    if "maxLength" not in (getattr(data, "description", "") or ""):
        return False
    body = case.body if isinstance(case.body, dict) else {}
    return any(isinstance(v, str) and v != v.strip() for v in body.values())


@schemathesis.check
def negative_data_rejection_beyond_pinned_parameters(ctx, response, case):
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if only_unbreakable_parameters_were_broken(case) or trimmed_to_fit(case):
            return None
        raise


# Data a create needs to succeed at all, which no schema can supply: a name and an email
# nobody has used yet, and an image that decodes. Only schema-valid (positive) cases are
# touched, and only their well-formed values.
FRESH = itertools.count(1)
ONE_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
CREATES_BY_NAME = ("POST /organizations/{org}/groups",)
CREATES_BY_EMAIL = ("POST /organizations/{org}/guests", "POST /organizations/{org}/users/invite")


LONG_POLLS = ("GET /organizations/{org}/events",)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # Here rather than in map_body, which the coverage phase's cases do not pass through.
    label = case.operation.label
    # A valid `wait` holds the request up to a minute when nothing happens: one second
    # tests the same code in a run of thousands of cases.
    if label in LONG_POLLS and isinstance(case.query, dict):
        wait = str(case.query.get("wait", ""))
        if wait.isdigit() and 1 < int(wait) <= 60:
            case.query = {**case.query, "wait": "1"}
    meta = case.meta
    if not isinstance(case.body, dict) or meta is None or not meta.generation.mode.is_positive:
        return
    # A copy: schemathesis derives other cases from the drawn dictionary.
    body = dict(case.body)
    name, email = body.get("name"), body.get("email")
    if label in CREATES_BY_NAME and isinstance(name, str) and name.strip() and len(name) < 190:
        body["name"] = f"{name} {next(FRESH)}"
    if label in CREATES_BY_EMAIL and isinstance(email, str) and email.count("@") == 1:
        local, domain = email.split("@")
        if local and domain and len(email) < 200:
            body["email"] = f"{local}.{next(FRESH)}@{domain}"
    case.body = body


# The only binary fields are the uploads' `file`: drawn as a real image, schema-valid
# uploads can succeed (negative cases are drawn apart from this strategy).
schemathesis.openapi.format("binary", st.just(ONE_PIXEL_PNG))
