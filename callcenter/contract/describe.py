"""How a route declares its contract: typed request and response models on the handler.

A feature describes a route by decorating its handler (the route table decorator stays
outermost)::

    from callcenter.contract import ErrorBody, described
    from pydantic import BaseModel

    class ContactIn(BaseModel):
        display_name: str

    class ContactOut(BaseModel):
        id: int
        display_name: str

    @routes.post(PREFIX + "/contacts")
    @described("Create a contact", body=ContactIn, responses={201: ContactOut}, tags=("crm",))
    async def create_contact(request: web.Request) -> web.Response: ...

The OpenAPI document (:mod:`callcenter.contract.document`) is generated from the app's
router and these declarations; a route nobody described still appears (method, path and
its parameters, the error schema), marked ``x-described: false``. Every error is
:class:`ErrorBody`: the one error schema of the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__api_route__"


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API (built by :mod:`callcenter.api`): ``error`` (a code),
    ``detail`` (a sentence or a list of faults), and where the fault is tied to one input,
    ``field`` and ``reason`` (a refused destination: ``reason`` alone, the policy's code)."""

    model_config = ConfigDict(extra="allow")

    error: str
    detail: Any
    field: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RouteDoc:
    """What :func:`described` records on a handler."""

    summary: str
    body: type[BaseModel] | None = None
    body_media: str | None = None  # a raw body instead (text/csv, application/toml …)
    query: type[BaseModel] | None = None
    responses: Mapping[int, type[BaseModel] | str | None] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    public: bool = False  # no login needed
    no_body: bool = False  # a POST/PUT that takes no body (said so, not forgotten)


def described(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    body_media: str | None = None,
    query: type[BaseModel] | None = None,
    responses: Mapping[int, type[BaseModel] | str | None] | None = None,
    tags: tuple[str, ...] = (),
    public: bool = False,
    no_body: bool = False,
) -> Callable[[F], F]:
    """Attach a :class:`RouteDoc` to a handler. ``responses`` maps a status to a model, a
    media type (``"text/csv"``) or ``None`` (JSON, not described further: only for 204,
    which has no body; ``tests/integration/test_api_schemas.py`` refuses it elsewhere).
    ``no_body``: a POST/PUT/PATCH that reads no body. Errors need not be listed: every
    route has :class:`ErrorBody` for 4XX."""

    doc = RouteDoc(
        summary,
        body,
        body_media,
        query,
        dict(responses or {200: None}),
        tuple(tags),
        public,
        no_body,
    )

    def mark(handler: F) -> F:
        setattr(handler, ATTRIBUTE, doc)
        return handler

    return mark


def doc_of(handler: Any) -> RouteDoc | None:
    """The handler's :class:`RouteDoc`, or ``None`` when it was not described."""
    found = getattr(handler, ATTRIBUTE, None)
    return found if isinstance(found, RouteDoc) else None
