"""Shared REST framework settings objects."""

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """Page numbers with a client-chosen size, capped so no call dumps a table."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
