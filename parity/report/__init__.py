"""JSON report: schema, summary, atomic writing, validation (no framework imports)."""
from parity.report.build import build_report, summarize
from parity.report.html import write_report_html
from parity.report.io import ReportError, WriteFailed, load_report, validate, write_report

__all__ = ["build_report", "summarize", "write_report", "load_report", "validate", "ReportError",
           "write_report_html", "WriteFailed"]
