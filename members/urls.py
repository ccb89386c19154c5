"""Member portal URLs. None carries a member id: the record is the caller's."""

from django.urls import path

from members import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("corrections/", views.corrections, name="corrections"),
]
