"""Pagination used by every list endpoint."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError

MAX_PAGE = 10**18 - 1  # 18 digits: int() is never handed a huge string (it refuses 4,300+ digits)


def single_positive_int(request, name: str, *, maximum: int = MAX_PAGE) -> int | None:
    """The query parameter as an int, None when absent; a bad, repeated or out-of-range value is a 400.

    A typo'd page is an error to report, not a silent fall back to page 1 (DRF reads ``?page=``
    and ``?page=2&page=x`` as the first page).
    """
    values = request.query_params.getlist(name)
    if not values:
        return None
    raw = values[0]
    if len(values) > 1 or not (1 <= len(raw) <= 18) or not raw.isascii() or not raw.isdigit() or not (
        1 <= int(raw) <= maximum
    ):
        bounds = "of at least 1" if maximum == MAX_PAGE else f"from 1 to {maximum}"
        raise ValidationError({name: [f"Must be one integer {bounds}."]})
    return int(raw)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        size = single_positive_int(request, self.page_size_query_param, maximum=self.max_page_size)
        return self.page_size if size is None else size

    def get_page_number(self, request, paginator):
        number = single_positive_int(request, self.page_query_param)
        return 1 if number is None else number

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
            if parameter["name"] == self.page_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": MAX_PAGE})
        return parameters
