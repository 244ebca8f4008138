"""Pagination for admin lists that grow to millions of rows (delivery and request logs)."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: `SELECT COUNT(*)` over a million-row log reads the
    whole table on PostgreSQL (hundreds of ms per page view), while nobody pages past the
    hundredth page of a log; filters narrow it instead. `count_capped` tells the list
    template to say "10000+"."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self):
        counted = self.object_list.order_by().values("pk")[: self.COUNT_CAP + 1].count()
        return min(counted, self.COUNT_CAP)

    @cached_property
    def count_capped(self):
        return self.count >= self.COUNT_CAP
