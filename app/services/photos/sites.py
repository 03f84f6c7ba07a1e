"""The body site as services and views use it: the domain's ``Site`` whose ``parse``
raises the services' ``Invalid``, so a form shows the message by the field."""

from __future__ import annotations

from app.domain import photos as rules
from app.services.errors import Invalid


class Site(rules.Site):
    """A body site: side, region and view (``left-calf-inner``)."""

    @classmethod
    def parse(cls, side: str | None, region: str | None, view: str | None) -> Site:
        """A site from form values; :raises Invalid: naming the missing part."""
        try:
            return super().parse(side, region, view)  # type: ignore[return-value]
        except rules.SiteError as exc:
            raise Invalid(exc.field, exc.message) from None
