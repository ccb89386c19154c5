"""Member portal URLs. None carries a member id: the record is the caller's.

Ids of stays, letters and surveys are looked up among the caller's own.
"""

from django.urls import path

from members import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("corrections/", views.corrections, name="corrections"),
    path("mobility/", views.mobility, name="mobility"),
    path("mobility/register/", views.mobility_register, name="mobility_register"),
    path(
        "mobility/<int:mobility_id>/report/",
        views.mobility_report,
        name="mobility_report",
    ),
    path(
        "mobility/<int:mobility_id>/move-on/",
        views.mobility_move_on,
        name="mobility_move_on",
    ),
    path(
        "mobility/<int:mobility_id>/return/",
        views.mobility_return,
        name="mobility_return",
    ),
    path("transfers/", views.transfer_list, name="transfers"),
    path("transfers/<int:transfer_id>/", views.transfer_detail, name="transfer"),
    path("yearly-report/", views.yearly_report, name="yearly_report"),
    path("surveys/", views.survey_list, name="surveys"),
    path("surveys/<int:survey_id>/", views.survey_detail, name="survey"),
]
