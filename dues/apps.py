from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DuesConfig(AppConfig):
    name = "dues"
    verbose_name = _("Party dues")

    def ready(self):
        # Registers the gateway configuration check.
        from dues import checks  # noqa: F401
