"""The member's meeting pages. A meeting id is looked up among the caller's
own invitations; the QR code's token names the meeting itself.
"""

from django.urls import path

from organizations.meetings import views

app_name = "meetings"

urlpatterns = [
    path("", views.meeting_list, name="list"),
    path("<int:meeting_id>/", views.meeting_detail, name="detail"),
    path("<int:meeting_id>/check-in/", views.meeting_check_in, name="check_in"),
    path("<int:meeting_id>/leave/", views.meeting_leave, name="leave"),
    path("checkin/<str:token>/", views.qr_check_in, name="checkin"),
]
