"""The member's study pages. A course is looked up among those the member
may study, a card among the member's own."""

from django.urls import path

from learning import views

app_name = "learning"

urlpatterns = [
    path("", views.study_home, name="home"),
    path("courses/<int:course_id>/", views.course_detail, name="course"),
    path("courses/<int:course_id>/beat/", views.course_beat, name="beat"),
    path("courses/<int:course_id>/complete/", views.course_complete, name="complete"),
    path("review/", views.review_cards, name="review"),
]
