from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoChatKitConfig(AppConfig):
    name = "django_chatkit"
    label = "django_chatkit"
    verbose_name = _("ChatKit")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_chatkit import checks  # noqa: F401  (registers the checks; imports models)
