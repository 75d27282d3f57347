from django.contrib import admin

from .models import Todo


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    list_display = ["title", "done", "user", "updated_at"]
    list_filter = ["done"]
    list_select_related = ["user"]
    search_fields = ["title"]
