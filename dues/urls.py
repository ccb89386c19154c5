"""The member's dues pages. No URL carries a member id; an order or receipt
reference is looked up among the caller's own orders.
"""

from django.urls import path

from dues import views

app_name = "dues"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/<slug:reference>/", views.order_detail, name="order"),
    path("receipts/<slug:reference>/", views.receipt, name="receipt"),
    path("receipts/<slug:reference>.pdf", views.receipt_download, name="receipt_pdf"),
]
