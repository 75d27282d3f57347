"""Admin pages to browse, search and moderate ChatKit conversations.

``ThreadAdmin`` (:mod:`django_chatkit.admin.threads`) lists threads and shows each one as
a readable, paginated transcript (:mod:`~django_chatkit.admin.transcript`);
``AttachmentAdmin`` (:mod:`~django_chatkit.admin.attachments`) lists uploaded files;
``UsageAdmin`` (:mod:`~django_chatkit.admin.usage`) shows the usage overview. All are
registered on the default admin site. Staff replies in a handed-off thread come
from :class:`~django_chatkit.admin.handoff.HandoffAdminMixin`.
"""

from django_chatkit.admin.attachments import AttachmentAdmin
from django_chatkit.admin.handoff import HandoffAdminMixin
from django_chatkit.admin.mixins import AttachmentLinksMixin
from django_chatkit.admin.moderation import ThreadModerationMixin
from django_chatkit.admin.threads import ThreadAdmin
from django_chatkit.admin.transcript import TranscriptBuilder
from django_chatkit.admin.usage import ThreadUsageMixin, UsageAdmin

__all__ = [
    "AttachmentAdmin",
    "AttachmentLinksMixin",
    "HandoffAdminMixin",
    "ThreadAdmin",
    "ThreadModerationMixin",
    "ThreadUsageMixin",
    "TranscriptBuilder",
    "UsageAdmin",
]
