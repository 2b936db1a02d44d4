"""The newsletter API (mounted under /api/): ``POST /api/newsletter/subscribe/`` and the signed-in
user's own subscription at ``/api/me/newsletter/``."""

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agentwise.api.fields import StrictBooleanField
from content.models import SubscriberSource

from ..newsletter import selectors, services
from ..newsletter.views import subscribe_throttle

ACCEPTED_DETAIL = "If this address can subscribe, a link to confirm it is on its way."


class SubscribeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class AccountNewsletterSerializer(serializers.Serializer):
    subscribed = StrictBooleanField()
    status = serializers.CharField(
        read_only=True, help_text="pending, active, unsubscribed, bounced, complained or none."
    )
    email = serializers.EmailField(read_only=True)


class NewsletterSubscribeView(APIView):
    """Double opt-in: the address gets a link to confirm. Public, and limited per client address."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="Subscribe an address to the newsletter",
        description=(
            "Always answers 202 for a well-formed address, so it never tells whether the address is "
            "already subscribed. The address gets a confirmation link (valid 7 days) and nothing else "
            "until it is confirmed. 429 beyond the sign-ups allowed per client address."
        ),
        request=SubscribeSerializer,
        responses={
            202: inline_serializer("NewsletterSubscribeAccepted", {"detail": serializers.CharField()})
        },
    )
    def post(self, request):
        serializer = SubscribeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscribe_throttle(request)
        services.subscriber_subscribe(
            email=serializer.validated_data["email"],
            source=SubscriberSource.API,
            user=request.user if request.user.is_authenticated else None,
        )
        return Response({"detail": ACCEPTED_DETAIL}, status=status.HTTP_202_ACCEPTED)


class AccountNewsletterView(APIView):
    """The signed-in user's subscription, as the account settings' toggle."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(summary="Your newsletter subscription", responses=AccountNewsletterSerializer)
    def get(self, request):
        return Response(_account_state(request.user))

    @extend_schema(
        summary="Subscribe or unsubscribe yourself",
        description="A verified account email is subscribed at once; otherwise it gets a link to confirm.",
        request=AccountNewsletterSerializer,
        responses=AccountNewsletterSerializer,
    )
    def put(self, request):
        serializer = AccountNewsletterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.subscriber_set_for_account(
            user=request.user, subscribed=serializer.validated_data["subscribed"]
        )
        return Response(_account_state(request.user))


def _account_state(user) -> dict:
    subscriber = selectors.subscriber_for_user(user)
    status_ = subscriber.status if subscriber else "none"
    return {
        "subscribed": status_ in ("active", "pending"),
        "status": status_,
        "email": subscriber.email if subscriber else user.email,
    }


urlpatterns = [
    path("newsletter/subscribe/", NewsletterSubscribeView.as_view(), name="api-newsletter-subscribe"),
    path("me/newsletter/", AccountNewsletterView.as_view(), name="api-account-newsletter"),
]
