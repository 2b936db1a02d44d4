from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from accounts import views as account_views
from accounts.urls import public_urlpatterns as account_public_urls
from content.newsletter import views as newsletter_views
from content.newsletter import webhooks as newsletter_webhooks
from projects import views as project_views

from . import health, views

# Staff sign in to the admin through allauth, so email confirmation and 2FA apply there too.
admin.site.login = secure_admin_login(admin.site.login)

api_urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("projects.api.urls")),
    path("", include("community.api.urls")),
    path("", include("content.api.urls")),
    path("", include("moderation.api.urls")),
    path("", include("billing.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from ?script, not inline: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Unknown API paths answer in the API's JSON error shape, with DEBUG on or off.
    re_path(r"^[\s\S]*$", views.api_not_found),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", health.healthz, name="healthz"),
    path("readyz/", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include(api_urlpatterns)),
    path("notifications/", account_views.notifications, name="notifications"),
    path("account/usage/", project_views.usage_page, name="account_usage"),
    path("account/newsletter/", newsletter_views.account_newsletter, name="account_newsletter"),
    path("", include("billing.urls")),  # /pricing/, /account/billing/, /stripe/webhook/
    path("account/", include("accounts.urls")),
    # allauth's sign-up, answering a uniqueness race like the check it raced (accounts.views.SignupView).
    path("account/signup/", account_views.signup, name="account_signup"),
    path("account/", include("allauth.urls")),
    *account_public_urls,
    path("projects/", include("projects.urls")),
    path("community/", include("community.urls")),
    path("forum/", include("community.forum_urls")),
    path("blog/", include("content.urls.blog")),
    path("docs/", include("content.urls.docs")),
    path("newsletter/", include("content.newsletter.urls")),
    # The email provider's tracking and inbound webhooks; each answers 404 until its secret is set.
    path("anymail/", include((newsletter_webhooks.webhook_urlpatterns(), "anymail"))),
    path("", include("content.urls.sitemap")),  # /sitemap.xml
    # Uploaded avatars. Fine at this scale; put object storage or a CDN in front when it grows.
    re_path(r"^media/(?P<path>.*)$", views.media),
]

handler400 = "agentwise.views.handler400"
handler403 = "agentwise.views.handler403"
handler404 = "agentwise.views.handler404"
handler500 = "agentwise.views.handler500"
