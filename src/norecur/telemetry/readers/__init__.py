"""The built-in telemetry readers, one module each, registered like a plugin's would be."""

from norecur.telemetry.readers.otlp_json import OtlpJsonReader
from norecur.telemetry.readers.otlp_proto import OtlpProtoReader

__all__ = ["READERS", "OtlpJsonReader", "OtlpProtoReader"]

READERS = (OtlpJsonReader, OtlpProtoReader)
"""Every built-in reader."""
