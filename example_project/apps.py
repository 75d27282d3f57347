from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    name = "example_project"
    verbose_name = "Demo"
    default_auto_field = "django.db.models.BigAutoField"
