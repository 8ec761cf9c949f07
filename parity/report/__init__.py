"""JSON report: schema, summary, atomic writing, validation (no framework imports)."""
from parity.report.build import build_report, summarize
from parity.report.io import (ReportError, WriteFailed, load_report, validate, write_report,
                              write_report_html)

__all__ = ["build_report", "summarize", "write_report", "load_report", "validate", "ReportError",
           "write_report_html", "WriteFailed"]
