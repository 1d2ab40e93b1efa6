"""The bench URLconf: the whole product plus a hello-world view behind the same middleware."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path


@login_required
def hello(request):
    return HttpResponse("Hello")


urlpatterns = [
    path("bench/hello/", hello, name="bench_hello"),
    path("", include("brokercrm.urls")),
]
