"""The bodies of a task staff make by hand on a record (api/routers/tasks.py); the table is `crm.models.Task`."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from crm.patch import Patch
from processes.sent_values import Text, WholeNumber, WrittenAwareDatetime

REMINDER_MAX_MINUTES = 60 * 24 * 60  # sixty days


class TaskCreate(SQLModel):
    record_id: WholeNumber = Field(description="the record (a case, a contact, a lead...) the task is about")
    title: Text = Field(min_length=1, max_length=500)
    category: str = Field(default="", max_length=64, description="one of the installation's TASK_CATEGORIES")
    due_at: WrittenAwareDatetime | None = Field(default=None,
                                                description="with its time zone: 2026-12-03T15:00:00+01:00")
    remind_minutes_before: WholeNumber | None = Field(default=None, ge=0, le=REMINDER_MAX_MINUTES,
                                                      description="email the task's user this long before due_at")
    assignee_id: WholeNumber | None = Field(default=None,
                                            description="the user responsible; the caller's own when empty")
    description: str = Field(default="", max_length=10_000)


class TaskUpdate(Patch):
    title: Text = Field(default=None, min_length=1, max_length=500)
    category: str = Field(default=None, max_length=64)
    due_at: WrittenAwareDatetime | None = None
    remind_minutes_before: WholeNumber | None = Field(default=None, ge=0, le=REMINDER_MAX_MINUTES)
    assignee_id: WholeNumber | None = None
    description: str = Field(default=None, max_length=10_000)
