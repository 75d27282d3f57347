"""``tests.settings`` with a small daily token allowance and a server that records usage,
for the two live workers of tests/usage/test_quotas.py (a live server cannot take
``override_settings``)."""

from tests.settings import *  # noqa: F403

CHATKIT_SERVER = "tests.support.servers.UsageServer"
# UsageServer's answers cost 100 tokens: the fourth answer of a day is refused.
CHATKIT_USAGE_LIMITS = {"tokens_per_day": 250}
