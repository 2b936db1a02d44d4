"""Billing API: a Checkout URL to subscribe, a portal URL to manage the subscription."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services


class CheckoutRequestSerializer(serializers.Serializer):
    price = serializers.CharField(max_length=255, help_text="A Stripe price id listed on /pricing/.")


class RedirectUrlSerializer(serializers.Serializer):
    url = serializers.URLField()


class CheckoutView(APIView):
    @extend_schema(
        summary="Start a subscription: a Stripe Checkout URL",
        description="Open the returned URL in a browser to pay. 400 for a price that is not on sale, 409 "
        "`already_subscribed` when a paid plan is active (use the portal to change it), 503 when Stripe "
        "cannot be reached.",
        request=CheckoutRequestSerializer,
        responses={200: RedirectUrlSerializer, 400: OpenApiResponse(description="Unknown price")},
    )
    def post(self, request):
        serializer = CheckoutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        url = services.checkout_url_create(user=request.user, price_id=serializer.validated_data["price"])
        return Response({"url": url})


class PortalView(APIView):
    @extend_schema(
        summary="Manage billing: a Stripe customer-portal URL",
        description="Change plan or card, cancel, download invoices. 409 `no_billing_account` before the first "
        "checkout.",
        request=None,
        responses={200: RedirectUrlSerializer},
    )
    def post(self, request):
        return Response({"url": services.portal_url_create(user=request.user)})
