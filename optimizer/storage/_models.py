"""The project's results tables (SQLAlchemy 2.x ORM), beside Optuna's own tables.

Own table names (prefix ``omega_``) and own metadata, created with ``create_all`` on
the same database: Optuna's Alembic bookkeeping never sees them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "StudyRow", "TrialRow"]


class Base(DeclarativeBase):
    """Declarative base with the project's own metadata."""

    metadata = MetaData()


class StudyRow(Base):
    """One study: its settings as validated from the study file."""

    __tablename__ = "omega_studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    run_mode: Mapped[str] = mapped_column(String(8))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    n_trials: Mapped[int] = mapped_column(Integer)
    batch_size: Mapped[int] = mapped_column(Integer)
    objective: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    constraints: Mapped[dict[str, Any]] = mapped_column(JSON)
    sampler: Mapped[dict[str, Any]] = mapped_column(JSON)
    search_space: Mapped[list[Any]] = mapped_column(JSON)
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON)
    study_file: Mapped[str] = mapped_column(Text)
    study_text: Mapped[str] = mapped_column(Text)
    base_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    engine_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    trials: Mapped[list[TrialRow]] = relationship(
        back_populates="study", order_by="TrialRow.number"
    )


class TrialRow(Base):
    """One trial: what was asked, the seed, the resolved config, every metric, the outcome."""

    __tablename__ = "omega_trials"
    __table_args__ = (UniqueConstraint("study_id", "number", name="uq_omega_trials_study_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("omega_studies.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    batch: Mapped[int] = mapped_column(Integer)
    #: RUNNING, WAITING (asked, interrupted, runs again on --resume), COMPLETE or FAIL.
    state: Mapped[str] = mapped_column(String(16), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    sampler_attrs: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(BigInteger)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_hash: Mapped[str | None] = mapped_column(String(64))
    resolved_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    trades: Mapped[int | None] = mapped_column(Integer)
    wins: Mapped[int | None] = mapped_column(Integer)
    losses: Mapped[int | None] = mapped_column(Integer)
    winrate: Mapped[float | None] = mapped_column(Float)
    profit_gross: Mapped[float | None] = mapped_column(Float)
    fees_total: Mapped[float | None] = mapped_column(Float)
    profit_net: Mapped[float | None] = mapped_column(Float)
    max_drawdown: Mapped[float | None] = mapped_column(Float)
    max_drawdown_pct: Mapped[float | None] = mapped_column(Float)
    max_drawdown_initial_pct: Mapped[float | None] = mapped_column(Float)
    avg_r_multiple: Mapped[float | None] = mapped_column(Float)
    total_lots: Mapped[float | None] = mapped_column(Float)
    profit_factor: Mapped[float | None] = mapped_column(Float)
    sharpe: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)

    objective_value: Mapped[float | None] = mapped_column(Float)
    feasible: Mapped[bool | None] = mapped_column(Boolean)
    duration_s: Mapped[float | None] = mapped_column(Float)
    engine_s: Mapped[float | None] = mapped_column(Float)
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_category: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    study: Mapped[StudyRow] = relationship(back_populates="trials")
