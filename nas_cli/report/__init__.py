"""Reading experiments for people and scripts: status summaries, exported architectures, the
HTML report, the live dashboard, and the page of a strategy comparison (`nas bench`).

Never imports torch or user code, never unpickles anything; optuna-dashboard and plotly only
when the dashboard or the report is asked for.
"""

from nas_cli.report._bench import write_bench_report
from nas_cli.report._dashboard import open_dashboard, require_dashboard, serve
from nas_cli.report._export import FORMATS, export_models, export_text, top_trials
from nas_cli.report._html import report_html, write_report
from nas_cli.report._status import status_json

__all__ = [
    "FORMATS", "export_models", "export_text", "open_dashboard", "report_html", "require_dashboard", "serve",
    "status_json", "top_trials", "write_bench_report", "write_report",
]
