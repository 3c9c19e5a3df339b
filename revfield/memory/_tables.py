"""The memory's tables as SQLAlchemy Core ``Table`` objects, one name each, for the query
modules (the ORM classes in :mod:`revfield.memory.models` define them)."""

from __future__ import annotations

from revfield.memory.models import (
    Account,
    ActionRecord,
    ApiToken,
    AuditEntry,
    ChurnRisk,
    Contact,
    DeadLetter,
    Deal,
    DecisionRecord,
    Fact,
    FieldEvent,
    InterruptAnswer,
    ModelCall,
    MotionBudgetDay,
    Notification,
    OutboxItem,
    Review,
    Schedule,
    Signal,
    SignalDetection,
    Team,
    User,
    Worker,
    table_of,
)

__all__ = [
    "ACCOUNTS",
    "ACTIONS",
    "API_TOKENS",
    "AUDIT",
    "CHURN_RISKS",
    "CONTACTS",
    "DEAD_LETTERS",
    "DEALS",
    "DECISIONS",
    "DETECTIONS",
    "EVENTS",
    "FACTS",
    "INTERRUPT_ANSWERS",
    "MODEL_CALLS",
    "MOTION_BUDGETS",
    "NOTIFICATIONS",
    "OUTBOX",
    "REVIEWS",
    "SCHEDULES",
    "SIGNALS",
    "TEAMS",
    "USERS",
    "WORKERS",
]

ACCOUNTS = table_of(Account)
ACTIONS = table_of(ActionRecord)
API_TOKENS = table_of(ApiToken)
AUDIT = table_of(AuditEntry)
CHURN_RISKS = table_of(ChurnRisk)
CONTACTS = table_of(Contact)
DEALS = table_of(Deal)
DEAD_LETTERS = table_of(DeadLetter)
DECISIONS = table_of(DecisionRecord)
DETECTIONS = table_of(SignalDetection)
EVENTS = table_of(FieldEvent)
FACTS = table_of(Fact)
INTERRUPT_ANSWERS = table_of(InterruptAnswer)
MODEL_CALLS = table_of(ModelCall)
MOTION_BUDGETS = table_of(MotionBudgetDay)
NOTIFICATIONS = table_of(Notification)
OUTBOX = table_of(OutboxItem)
REVIEWS = table_of(Review)
SCHEDULES = table_of(Schedule)
SIGNALS = table_of(Signal)
TEAMS = table_of(Team)
USERS = table_of(User)
WORKERS = table_of(Worker)
