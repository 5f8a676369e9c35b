"""Storage (OPTIMIZER §5): Optuna's tables plus the project's results tables in one database."""

from optimizer.storage._engine import DEFAULT_STORAGE, display_url, resolve_storage
from optimizer.storage._models import Base, StudyRow, TrialRow
from optimizer.storage._records import NewTrial, StudyRecord, TrialRecord, study_record
from optimizer.storage._store import BatchClaim, BatchPlan, DriverLease, StudyExists, StudyStore

__all__ = [
    "DEFAULT_STORAGE",
    "Base",
    "BatchClaim",
    "BatchPlan",
    "DriverLease",
    "NewTrial",
    "StudyExists",
    "StudyRecord",
    "StudyRow",
    "StudyStore",
    "TrialRecord",
    "TrialRow",
    "display_url",
    "resolve_storage",
    "study_record",
]
