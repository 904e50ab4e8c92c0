from segments.services.scoring import (
    scoring_orders_upserted,
    scoring_run_execute,
    scoring_run_request,
)
from segments.services.segments import (
    csv_safe,
    segment_evaluate,
    segment_export_rows,
    segments_evaluate_all,
)

__all__ = [
    "csv_safe",
    "scoring_orders_upserted",
    "scoring_run_execute",
    "scoring_run_request",
    "segment_evaluate",
    "segment_export_rows",
    "segments_evaluate_all",
]
