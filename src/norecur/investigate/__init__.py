"""From alert to draft postmortem: incident intake, evidence collection, investigation, eval
cases from failing traces. Joins the diagnosis plane (``rca``) to the postmortem plane
(``document``, ``store``)."""

from norecur.investigate._incident import Incident
from norecur.investigate._intake import (
    PAYLOAD_READERS,
    IncidentError,
    PayloadReader,
    detect,
    load_incident,
    open_incident,
)

__all__ = [
    "PAYLOAD_READERS",
    "Incident",
    "IncidentError",
    "PayloadReader",
    "detect",
    "load_incident",
    "open_incident",
]
