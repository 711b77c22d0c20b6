"""Reading experiments for people and scripts: status summaries and exported architectures.

Reads results.json only: never imports torch or user code, never unpickles anything.
"""

from nas_cli.report._export import FORMATS, export_text, top_trials
from nas_cli.report._status import status_json

__all__ = ["FORMATS", "export_text", "status_json", "top_trials"]
