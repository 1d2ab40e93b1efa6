from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Sends the Content-Security-Policy header (Django 5.2 has no built-in CSP)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
