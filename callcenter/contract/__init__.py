"""The API contract: routes declare typed models (:mod:`.describe`), the OpenAPI 3.1
document is generated from the router (:mod:`.document`) and served with an offline API
browser (:mod:`.http`). See docs/api.md."""

from callcenter.contract.describe import ErrorBody, RouteDoc, described, doc_of

__all__ = ["ErrorBody", "RouteDoc", "described", "doc_of"]
