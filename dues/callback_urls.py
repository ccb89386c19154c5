"""Gateway callbacks and the sandbox payment page, under ``/pay/``."""

from django.urls import path

from dues import callbacks

app_name = "pay"
urlpatterns = [
    path("callback/<str:channel>/", callbacks.callback, name="callback"),
    path("sandbox/<str:reference>/", callbacks.sandbox_page, name="sandbox"),
]
