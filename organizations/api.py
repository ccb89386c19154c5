"""REST API for organisations: read-only, scoped by the caller's roles."""

from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Length, Substr
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from config.api import ActionThrottleMixin
from organizations.models import Organization
from organizations.scope import Scope, organizations_in_scope, scope_for


class OrganizationSerializer(serializers.ModelSerializer):
    """An organisation, its region and its place in the tree, by code."""

    region_name = serializers.CharField(source="region.name", read_only=True)
    parent = serializers.CharField(
        source="parent_code",
        read_only=True,
        allow_null=True,
        help_text=_("Code of the parent organisation; null at the top of the tree."),
    )

    class Meta:
        model = Organization
        fields = [
            "code",
            "name",
            "kind",
            "region",
            "region_name",
            "parent",
            "depth",
            "founded_on",
            "dissolved_on",
            "may_approve_probationary",
            "address",
            "phone",
            "time_zone",
        ]
        read_only_fields = fields


class OrganizationFilterSerializer(serializers.Serializer):
    """Query parameters of the organisation list."""

    parent = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Organization.objects.none(),
        required=False,
        help_text=_("Only the direct children of this organisation (a code)."),
    )
    kind = serializers.ChoiceField(choices=Organization.Kind.choices, required=False)

    def __init__(self, *args, scope: Scope | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # A parent outside the scope is as unknown as one that does not
        # exist, so the answer never tells which codes exist elsewhere.
        if scope is not None:
            self.fields["parent"].queryset = organizations_in_scope(scope)


def with_parent_code(organizations: QuerySet[Organization]) -> QuerySet[Organization]:
    """Annotate each organisation with its parent's code, in the same query."""
    # A parent's materialised path is the child's minus its last step.
    parent_path = Substr(
        OuterRef("path"), 1, Length(OuterRef("path")) - Organization.steplen
    )
    parent = Organization.objects.filter(path=parent_path)
    return organizations.annotate(parent_code=Subquery(parent.values("code")[:1]))


@extend_schema_view(
    list=extend_schema(
        summary=_("List organisations"),
        description=_(
            "Organisations in the subtrees the caller's roles reach, in tree "
            "order. Callers without a role get an empty list."
        ),
        parameters=[OrganizationFilterSerializer],
    ),
    retrieve=extend_schema(
        summary=_("Show an organisation"),
        description=_("An organisation outside the caller's scope answers 404."),
    ),
)
class OrganizationViewSet(ActionThrottleMixin, viewsets.ReadOnlyModelViewSet):
    """Organisations the caller may see, looked up by code."""

    serializer_class = OrganizationSerializer
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    action_throttle_scopes = {"list": "list"}

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def get_queryset(self) -> QuerySet[Organization]:
        return with_parent_code(organizations_in_scope(self.scope)).order_by("path")

    def filter_queryset(self, queryset: QuerySet[Organization]):
        if self.action != "list":
            return queryset
        filters = OrganizationFilterSerializer(
            data=self.request.query_params, scope=self.scope
        )
        filters.is_valid(raise_exception=True)
        parent = filters.validated_data.get("parent")
        if parent is not None:
            queryset = queryset.filter(
                path__startswith=parent.path, depth=parent.depth + 1
            )
        if kind := filters.validated_data.get("kind"):
            queryset = queryset.filter(kind=kind)
        return queryset
