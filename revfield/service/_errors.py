"""What an API error looks like: one JSON body naming what is wrong and where, never a
traceback. :class:`ApiError` is raised by the endpoints; :class:`ErrorBody` is its shape in
the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from revfield.errors import RevfieldError

__all__ = ["ERRORS", "ApiError", "ErrorBody", "Problem", "error_responses"]


class Problem(BaseModel):
    """One thing wrong with a request: where (``body.edits.discount_pct``, ``query.limit``)
    and why."""

    where: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API answers: a short code, a message saying what is wrong and where
    (and what to do), the request id to quote in a report, and for a malformed request each
    problem with its place."""

    error: str = Field(description="A short code: `unauthorized`, `not_found`, `conflict`…")
    message: str = Field(description="What is wrong and where; what to do, when there is.")
    request_id: str = Field(description="The request's id (also the `X-Request-ID` header).")
    problems: list[Problem] = Field(default_factory=list)


class ApiError(RevfieldError):
    """An answer other than success: the HTTP status, a short code and the message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.problems = problems or []


ERRORS: dict[int, str] = {
    400: "The request can't be read (malformed JSON, a key given twice).",
    401: "No token, or one that is unknown or revoked.",
    403: "The caller's role may not use this endpoint.",
    404: "Nothing of that id that the caller may see.",
    409: "The item changed since the caller saw it, or was answered already.",
    413: "The request is larger than the endpoint takes.",
    422: "A value in the request is wrong; `problems` says which.",
    503: "The database is not reachable.",
}
"""What each error status means, for the OpenAPI document."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry for the error statuses an endpoint answers."""
    return {s: {"model": ErrorBody, "description": ERRORS[s]} for s in statuses}
