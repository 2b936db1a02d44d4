"""Middleware for moderation: the current request, for the audit log's address and user agent."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .audit import current_request_reset, current_request_set


class AuditRequestMiddleware:
    """Holds the request in a context variable while it is served, so ``audit_record`` called deep in a
    service (or a signal receiver) records the client's address without every caller passing it. Cleared
    when the response is returned, so nothing leaks into the next request on the same thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        token = current_request_set(request)
        try:
            return self.get_response(request)
        finally:
            current_request_reset(token)

    async def __acall__(self, request):
        token = current_request_set(request)
        try:
            return await self.get_response(request)
        finally:
            current_request_reset(token)
