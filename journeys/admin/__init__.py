"""Journeys in the admin: an interface; every change goes through journeys.services.

One module per screen family; importing them registers their ModelAdmins."""

from journeys.admin import enrollments, journey, other  # noqa: F401
