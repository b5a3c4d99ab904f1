"""Every workflow the worker registers."""

from workflows.client_requests import ClientRequestWorkflow
from workflows.process import ProcessWorkflow
from workflows.notices import NoticesWorkflow
from workflows.record_events import RecordEventsWorkflow
from workflows.task_reminders import TaskReminderWorkflow

ALL_WORKFLOWS = [ProcessWorkflow, RecordEventsWorkflow, NoticesWorkflow, TaskReminderWorkflow, ClientRequestWorkflow]
