"""From alert to draft postmortem: incident intake, evidence collection, investigation, eval
cases from failing traces. Joins the diagnosis plane (``rca``) to the postmortem plane
(``document``, ``store``)."""

from norecur.investigate._incident import Incident

__all__ = ["Incident"]
