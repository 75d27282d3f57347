"""Usage and cost: what every answer cost, and per-user token allowances.

:func:`record_usage` records one answer (the one line any server adds);
:func:`stream_agent` runs an openai-agents agent, streams it to ChatKit and records the
run by itself; :func:`check_usage_limits` refuses a user over ``CHATKIT_USAGE_LIMITS``
(the endpoint calls it before a response starts). The rows are
``django_chatkit.models.Usage`` (per answer, deleted with its thread) and
``DailyUsage`` (per user, scope, model and day, kept).
"""

from django_chatkit.usage.agents import model_name, stream_agent
from django_chatkit.usage.quotas import Allowance, allowances, check_usage_limits
from django_chatkit.usage.recording import UsageCounts, record_usage, save_usage

__all__ = [
    "Allowance",
    "UsageCounts",
    "allowances",
    "check_usage_limits",
    "model_name",
    "record_usage",
    "save_usage",
    "stream_agent",
]
