"""QBO fault bodies in the shapes the real service uses (see reference/qbo/errors/).

Validation and business faults are JSON ``{"Fault": {"Error": [...], "type": ...}, "time": ...}``;
401/403 come with lower-case keys (``fault``/``error``); throttling (3001) is answered in XML even when
JSON was asked for, as seen in real life.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.responses import Response

DUPLICATE_NAME_DETAIL = ("The name supplied already exists. : Another customer, vendor or employee is "
                         "already using this \nname. Please use a different name.")
NOT_FOUND_DETAIL = ("Object Not Found : Something you're trying to use has been made inactive. Check the "
                    "fields with accounts, customers, items, vendors or employees.")


class QboFault(Exception):
    """A QBO business/validation error; rendered as a Fault body with an HTTP status.

    Args:
        code: QBO error code (e.g. 610, 5010, 6240).
        message: the ``Message`` text.
        detail: the ``Detail`` text.
        element: the offending element name, when known.
        status: HTTP status of the whole response (400 for validation faults).
        fault_type: the Fault ``type`` attribute.
    """

    def __init__(self, code: int | str, message: str, detail: str = "", element: str = "",
                 status: int = 400, fault_type: str = "ValidationFault") -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = str(code)
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> dict[str, Any]:
        """The ``Fault`` object (without envelope), as used inside batch item responses."""
        return {"Error": [{"Message": self.message, "Detail": self.detail, "code": self.code,
                           "element": self.element}], "type": self.fault_type}


def not_found(entity: str = "") -> QboFault:
    """610 Object Not Found (unknown or deleted id)."""
    return QboFault(610, "Object Not Found", NOT_FOUND_DETAIL)


def stale_object() -> QboFault:
    """5010 Stale Object Error (SyncToken mismatch)."""
    return QboFault(5010, "Stale Object Error",
                    "Stale Object Error : You and API API were working on this at the same time. "
                    "API API finished before you did, so your work was not saved.")


def duplicate_name() -> QboFault:
    """6240 Duplicate Name Exists Error."""
    return QboFault(6240, "Duplicate Name Exists Error", DUPLICATE_NAME_DETAIL)


def business(detail: str, element: str = "") -> QboFault:
    """6000 business validation error with the given detail sentence."""
    return QboFault(6000, "A business validation error has occurred while processing your request",
                    f"Business Validation Error: {detail}", element)


def required(name: str) -> QboFault:
    """2020 Required param missing."""
    return QboFault(2020, "Required param missing, need to supply the required value for the API",
                    f"Required parameter {name} is missing in the request", name)


def invalid_reference(what: str) -> QboFault:
    """2500 Invalid Reference Id."""
    return QboFault(2500, "Invalid Reference Id",
                    f"Invalid Reference Id : {what} assigned to this transaction has been deleted or does not exist.")


def invalid_property(detail: str) -> QboFault:
    """2010 Request has invalid or unsupported property."""
    return QboFault(2010, "Request has invalid or unsupported property", detail)


def too_long(element: str, limit: int, supplied: int) -> QboFault:
    """2050 String length outside the specification."""
    return QboFault(2050, "String length is either shorter or longer than supported by specification",
                    f"String length specified does not match the supported length. Min:0 Max:{limit} "
                    f"supplied length:{supplied}", element)


def unsupported(detail: str = "") -> QboFault:
    """500 Unsupported operation requested."""
    return QboFault(500, "Unsupported operation requested", detail)


def query_parse_error(detail: str) -> QboFault:
    """4000 Error parsing query."""
    return QboFault(4000, "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QboFault:
    """4001 Invalid query."""
    return QboFault(4001, "Invalid query", f"QueryValidationError: {detail}")


def qbo_time(now: datetime) -> str:
    """The ``time`` attribute of responses: local time with milliseconds and offset."""
    text = now.isoformat(timespec="milliseconds")
    return text


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    """A compact JSON response (QBO does not pretty-print)."""
    return Response(json.dumps(body, separators=(",", ":")), status_code=status,
                    media_type="application/json")


def fault_response(fault: QboFault, now: datetime) -> Response:
    """The full Fault envelope for a single failed request."""
    return json_response({"Fault": fault.fault(), "time": qbo_time(now)}, fault.status)


def auth_fault_response(status: int, code: str, name: str, detail: str, now: datetime) -> Response:
    """401/403 bodies: lower-case keys, as captured from the real service."""
    body = {"warnings": None, "intuitObject": None,
            "fault": {"error": [{"message": f"message={name}; errorCode=00{code}; statusCode={status}",
                                 "detail": detail, "code": code, "element": None}],
                      "type": "AUTHENTICATION" if status == 401 else "SERVICE"},
            "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
            "syncErrorResponse": None, "requestId": None, "time": int(now.timestamp() * 1000),
            "status": None, "cdcresponse": []}
    headers = {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'} if status == 401 else {}
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def throttle_xml(now: datetime) -> str:
    """The 429 ThrottleExceeded body (XML even when JSON was requested)."""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{qbo_time(now)}">\n'
            '    <Fault type="SERVICE">\n'
            '        <Error code="3001">\n'
            '            <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n'
            '            <Detail>The request limit was reached.  Try again later</Detail>\n'
            '        </Error>\n'
            '    </Fault>\n'
            '</IntuitResponse>\n')


def throttle_response(now: datetime, retry_after: int = 60) -> Response:
    """HTTP 429 with the XML body; ``Retry-After`` is added as a hint (the real service may omit it)."""
    return Response(throttle_xml(now), status_code=429, media_type="application/xml",
                    headers={"Retry-After": str(retry_after)})


def system_error_response(now: datetime) -> Response:
    """An injected server failure: HTTP 500 with a SystemFault (code 10000)."""
    body = {"Fault": {"Error": [{"Message": "An application error has occurred while processing your request",
                                 "Detail": "System Failure Error: An unexpected error occurred while "
                                           "accessing or saving your data. Please wait a few minutes and "
                                           "try again.", "code": "10000", "element": ""}],
                      "type": "SystemFault"}, "time": qbo_time(now)}
    return json_response(body, 500)
